# cli: the config-file parser (cli/config.c).
sm_add_unit_test(test_cli_config SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cli_config.c
  LIBS sm_cliconf)
# cli + engine: the Galera SST method's texts and the IST window decision.
sm_add_unit_test(test_sst SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sst.c LIBS sm_clisst)
