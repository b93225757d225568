"""What people approve and the chain over it: model checkpoints tied to the data slices they were trained on,
feature definitions and prompt templates with their lifecycle, and the hash-chained audit log."""
