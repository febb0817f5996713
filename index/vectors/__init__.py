"""Where the vectors live and how they are searched: the backend contract, FAISS, Milvus, recall, calibration."""
