# Simulator (sim/): event queue, fluid bandwidth model, whole-swarm runs.
sm_add_unit_test(test_sim
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_sim.c
  LIBS sm_sim sm_swarm)
