# chunkstore: the manifest root and segment decoders (craft.c builds the root
# the segment mode decodes against).
sm_add_fuzzer(fuzz_manifest
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_manifest.c ${CMAKE_CURRENT_LIST_DIR}/../tools/craft.c
  LIBS sm_chunkstore)
