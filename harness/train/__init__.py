"""Fixed-compute training: scales (``harness/conf/scale``), resharding a subset into webdataset
shards, and open_clip's own trainer run in a child process (``harness.train.trainer``)."""
