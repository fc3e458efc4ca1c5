# gossip/ unit tests: codec, envelope and caps (test_gossip), and whole
# simulated clusters on a fake network with a virtual clock (test_gossip_cluster).
sm_add_unit_test(test_gossip SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_gossip.c LIBS sm_gossip)
sm_add_unit_test(test_gossip_cluster
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_gossip_cluster.c ${CMAKE_CURRENT_LIST_DIR}/gossip_harness.c
  LIBS sm_gossip)
