"""Durable storage: CDRs and calls in progress in LMDB, the CDR journal, CSV export, the last-alive mark."""
