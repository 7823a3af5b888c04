"""Workers: the processor (one action, end to end, `worker.processor`) and the Redis Streams
consumer (`worker.stream`). Import the modules themselves: the stream worker uses the
scheduler, which uses the processor, so this package must not import both eagerly."""
