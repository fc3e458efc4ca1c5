# engine: the parsers of coordinate files and the facts file carried inside a
# snapshot (untrusted bytes on the recipient).
sm_add_fuzzer(fuzz_coords SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_coords.c LIBS sm_engine)
# engine, mysql: version strings and lines, GTID sets and clone_status rows
# (server answers, and coordinates inside a fetched snapshot).
sm_add_fuzzer(fuzz_mysql SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_mysql.c LIBS sm_engine)
