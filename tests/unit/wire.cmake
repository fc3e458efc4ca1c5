# node/wire: handshake, frame codec, message codec.
sm_add_unit_test(test_wire
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_wire.c ${CMAKE_CURRENT_LIST_DIR}/test_wire_msg.c
  LIBS sm_wire)
