# Swarm scheduler: scripted-peer unit tests on fetching plus a small
# deterministic whole-swarm simulation (test_swarm_sim.c) in one binary
# (test_swarm); scripted-peer tests on the peer side: dialing, uploads, donor
# protection, linger (test_swarm_peers). Both share test_swarm_util.c.
sm_add_unit_test(test_swarm
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_swarm.c ${CMAKE_CURRENT_LIST_DIR}/test_swarm_sim.c
    ${CMAKE_CURRENT_LIST_DIR}/test_swarm_util.c
  LIBS sm_swarm)
sm_add_unit_test(test_swarm_peers
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_swarm_peers.c ${CMAKE_CURRENT_LIST_DIR}/test_swarm_util.c
  LIBS sm_swarm)
