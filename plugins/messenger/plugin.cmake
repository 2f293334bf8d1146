gateway_add_channel_plugin(messenger
  ${CMAKE_CURRENT_SOURCE_DIR}/messenger/src/translate.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/messenger/src/channel.cpp)
