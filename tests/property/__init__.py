"""Property and fuzz tests (hypothesis): whatever the input, an answer and never a crash."""
