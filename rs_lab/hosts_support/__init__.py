"""Support files for rs_lab.hosts: fact renderers and the nofile LD_PRELOAD shim (C)."""
