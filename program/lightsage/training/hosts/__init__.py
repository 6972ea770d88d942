"""Several instances, one model: joining the hosts, their messages, the watchdog."""
