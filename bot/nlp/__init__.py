"""Pure, synchronous NLP: text in, classification out (no I/O after load)."""
