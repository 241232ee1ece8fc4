"""A Faust app whose consumer really seeks to the committed offsets after a rebalance.

faust-streaming 0.15.3 resumes the stream partitions, then "seeks them to the committed
offsets" (``Consumer.perform_seek``), and drops what it fetched in between. aiokafka 0.14's
``seek_to_committed`` only seeks a partition whose committed offset is above 0: with none (a
stage that never committed, e.g. killed within its first commit interval) or 0, the fetch
position stays past the dropped records, and the stream never sees them (measured: a restarted
stage stalled with its input partitions read to the end and a third of their records never
processed). Here such a partition is sent back to where a committed offset of 0 or the
``earliest`` reset would start it: nothing is lost, the re-read records are merged idempotently.
"""

from __future__ import annotations

from collections.abc import Mapping

import faust
from faust.transport import base as transport_base
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    async def seek_to_committed(self) -> Mapping[TP, int]:
        committed: Mapping[TP, int] = await self.call_thread(self._seek_to_committed_or_start)
        return committed

    async def _seek_to_committed_or_start(self) -> Mapping[TP, int]:
        consumer = self._ensure_consumer()
        committed: Mapping[TP, int] = await consumer.seek_to_committed()
        sources: frozenset[str] = getattr(self.app, "stream_sources", frozenset())
        for tp, offset in committed.items():
            if offset or tp.topic not in sources:
                continue  # aiokafka has sought it (offset > 0), or it is a changelog (Faust's)
            if offset is None:
                await consumer.seek_to_beginning(tp)  # as consumer_auto_offset_reset=earliest
            else:
                consumer.seek(tp, 0)
        return committed


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class _Transport(faust_aiokafka.Transport):
    Consumer = _Consumer


class App(faust.App):
    """``faust.App`` with the consumer above (``kafka://`` brokers only). ``stream_sources``:
    the topics the agents read, the only ones the fix re-positions."""

    stream_sources: frozenset[str] = frozenset()

    def _new_transport(self) -> transport_base.Transport:
        transport: transport_base.Transport = _Transport(self.conf.broker_consumer, self)
        return transport
