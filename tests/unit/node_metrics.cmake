# node: the metrics endpoint's HTTP request parser (node/http.c); the
# endpoint itself is scraped with curl in tests/integration/ops.sh.
sm_add_unit_test(test_node_http SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_node_http.c LIBS sm_node)
