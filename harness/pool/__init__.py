"""DataComp pool formats: uids, subset files, shard readers and writers, validation."""
