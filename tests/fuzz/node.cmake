# node: the control-socket request decoder (bytes from a local client).
sm_add_fuzzer(fuzz_control SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_control.c LIBS sm_node)
