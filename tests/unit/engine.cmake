# engine: coordinate files, facts file, version lines, compatibility
# decisions, join statements, server_id derivation, privilege check.
sm_add_unit_test(test_engine SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_engine.c LIBS sm_engine)
# engine, mysql: version strings, GTID sets, clone_status rows, join
# statements per version range and mode, clone compatibility, error texts.
sm_add_unit_test(test_engine_mysql SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_engine_mysql.c
  LIBS sm_engine)
# engine, mysql: donor and join flows through engine_ops against a scripted
# stand-in for the client library (no MySQL server can run here).
sm_add_unit_test(test_engine_mysql_flow SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_engine_mysql_flow.c
  ${CMAKE_CURRENT_LIST_DIR}/mysql_standin.c LIBS sm_engine)
