gateway_add_channel_plugin(whatsapp
  ${CMAKE_CURRENT_SOURCE_DIR}/whatsapp/src/translate.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/whatsapp/src/send.cpp
  ${CMAKE_CURRENT_SOURCE_DIR}/whatsapp/src/channel.cpp)
