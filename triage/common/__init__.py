"""Small helpers every stage may use; nothing here imports another module of ours."""
