# gossip/: the datagram envelope, the plaintext decoder, and sealed arbitrary
# plaintext through the protocol logic (mode = first input byte).
sm_add_fuzzer(fuzz_gossip_packet SOURCES ${CMAKE_CURRENT_LIST_DIR}/fuzz_gossip_packet.c
  LIBS sm_gossip)
