"""What is loaded once and kept hot: decoding, motion analysis, event detection, sound backends."""
