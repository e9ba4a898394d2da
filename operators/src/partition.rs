//! Exchanges reading batches between workers by device, one message per (batch, worker).
//!
//! Every reading of a device goes to the same worker (`hash(device) % workers`), so per-device
//! and per-(device, sensor) state lives in exactly one place. Splitting happens once per batch
//! into columnar sub-batches; nothing is exchanged record by record. Timestamps are unchanged.

use msec_engine::ReadingBatch;
use timely::dataflow::Stream;
use timely::dataflow::channels::pact::{Exchange, Pipeline};
use timely::dataflow::operators::generic::Operator;

/// Mixes a device id into a well-spread 64-bit hash (deterministic across runs).
#[inline]
pub fn device_hash(device: u32) -> u64 {
    // SplitMix64 finaliser.
    let mut z = u64::from(device).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Exchange of reading batches by device.
pub trait PartitionReadings<'scope> {
    /// Routes every reading to worker `device_hash(device) % peers`.
    fn partition_by_device(self) -> Stream<'scope, u64, Vec<ReadingBatch>>;
}

impl<'scope> PartitionReadings<'scope> for Stream<'scope, u64, Vec<ReadingBatch>> {
    fn partition_by_device(self) -> Stream<'scope, u64, Vec<ReadingBatch>> {
        let peers = self.scope().peers();
        if peers == 1 {
            return self;
        }
        self.unary::<timely::container::CapacityContainerBuilder<Vec<(u64, ReadingBatch)>>, _, _, _>(
            Pipeline,
            "SplitByDevice",
            move |_cap, _info| {
                move |input, output| {
                    input.for_each(|cap, data| {
                        let mut session = output.session(&cap);
                        for batch in data.drain(..) {
                            let parts = batch.partition_by(peers, |d, _| device_hash(d));
                            for (worker, part) in parts.into_iter().enumerate() {
                                if !part.is_empty() {
                                    session.give((worker as u64, part));
                                }
                            }
                        }
                    });
                }
            },
        )
        .unary(Exchange::new(|(worker, _): &(u64, ReadingBatch)| *worker), "ExchangeByDevice", |_cap, _info| {
            move |input, output| {
                input.for_each(|cap, data| {
                    output.session(&cap).give_iterator(data.drain(..).map(|(_, batch)| batch));
                });
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_spreads_consecutive_ids() {
        let mut counts = [0usize; 4];
        for d in 0..4000u32 {
            counts[(device_hash(d) % 4) as usize] += 1;
        }
        assert!(counts.iter().all(|&c| c > 800), "{counts:?}");
    }
}
