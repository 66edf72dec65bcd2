"""What consumers meet: the public read models, the scan log and its checks, consumer reports,
daily counts."""
