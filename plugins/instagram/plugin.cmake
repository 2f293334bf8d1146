gateway_add_channel_plugin(instagram
  ${CMAKE_CURRENT_SOURCE_DIR}/instagram/src/translate.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/instagram/src/channel.cpp)
