# node: the control-socket request codec (the daemon's other untrusted input;
# peer links are covered by the wire tests and tests/integration/hostile.sh).
sm_add_unit_test(test_node_control
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_node_control.c
  LIBS sm_node)

# node: the gossip generation kept in the state directory (clock set back).
sm_add_unit_test(test_node_generation
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_node_generation.c
  LIBS sm_node)

# node: the token buckets behind --max-upload/--max-download/seedmesh rate.
sm_add_unit_test(test_node_ratelimit
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_node_ratelimit.c
  LIBS sm_node)
