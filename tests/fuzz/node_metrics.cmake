# node: the metrics endpoint's HTTP request parser (bytes from any client).
sm_add_fuzzer(fuzz_http SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_http.c LIBS sm_node)
