"""Workers: the processor (one action, end to end) and the Redis Streams consumer."""

from action_service.worker.processor import Processor, to_request
from action_service.worker.stream import StreamWorker

__all__ = ["Processor", "StreamWorker", "to_request"]
