# engine: coordinate files, facts file, version lines, compatibility
# decisions, join statements, server_id derivation, privilege check.
sm_add_unit_test(test_engine SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_engine.c LIBS sm_engine)
# engine, mysql: version strings, GTID sets, clone_status rows, join
# statements per version range and mode, clone compatibility, error texts.
sm_add_unit_test(test_engine_mysql SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_engine_mysql.c
  LIBS sm_engine)
