# Swarm scheduler: scripted-peer unit tests plus a small deterministic
# whole-swarm simulation (test_swarm_sim.c) in the same binary.
sm_add_unit_test(test_swarm
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_swarm.c ${CMAKE_CURRENT_LIST_DIR}/test_swarm_sim.c
  LIBS sm_swarm)
