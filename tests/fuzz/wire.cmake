# node/wire: frame decoder, message decoder, handshake reader.
sm_add_fuzzer(fuzz_wire_frame SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_wire_frame.c LIBS sm_wire)
sm_add_fuzzer(fuzz_wire_msg SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_wire_msg.c LIBS sm_wire)
sm_add_fuzzer(fuzz_wire_handshake SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_wire_handshake.c
  LIBS sm_wire)
