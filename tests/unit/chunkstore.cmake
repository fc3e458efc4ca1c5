# chunkstore: chunk codec, deltas and pieces (test_chunkstore); manifest
# coding, round trips and allocation failures (test_chunkstore_manifest); every
# rejection path with hand-crafted manifests, signatures and trust
# (test_chunkstore_manifest_reject); snapshot, staging, materialize and verify
# on real trees (test_chunkstore_tree).
set(CS_TEST_DIR ${CMAKE_CURRENT_LIST_DIR})
sm_add_unit_test(test_chunkstore
  SOURCES ${CS_TEST_DIR}/test_chunkstore.c ${CS_TEST_DIR}/test_chunkstore_util.c
  LIBS sm_chunkstore)
sm_add_unit_test(test_chunkstore_manifest
  SOURCES ${CS_TEST_DIR}/test_chunkstore_manifest.c ${CS_TEST_DIR}/test_chunkstore_util.c
    ${CS_TEST_DIR}/../tools/craft.c
  LIBS sm_chunkstore)
sm_add_unit_test(test_chunkstore_manifest_reject
  SOURCES ${CS_TEST_DIR}/test_chunkstore_manifest_reject.c ${CS_TEST_DIR}/test_chunkstore_util.c
    ${CS_TEST_DIR}/../tools/craft.c
  LIBS sm_chunkstore)
sm_add_unit_test(test_chunkstore_tree
  SOURCES ${CS_TEST_DIR}/test_chunkstore_tree.c ${CS_TEST_DIR}/test_chunkstore_util.c
  LIBS sm_chunkstore)
