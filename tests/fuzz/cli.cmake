# cli: the config-file parser (a file an operator or an attacker may write).
sm_add_fuzzer(fuzz_config SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_config.c LIBS sm_cliconf)
# cli: the SST method's joiner address and donor answer (from the network).
sm_add_fuzzer(fuzz_sst_line SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_sst_line.c LIBS sm_clisst)
