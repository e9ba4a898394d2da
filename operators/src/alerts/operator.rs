//! The alert operators: [`Alerts`] (route by household, apply rules in event-time order,
//! fire deadlines from the frontier) and [`OrderAlerts`] (canonical order and presentation on
//! the sink worker).
//!
//! Time semantics. A batch at timely time `t` only holds readings with event time `≥ t`, so
//! when the input frontier is at `F` every reading before `F` has arrived: the operator then
//! applies the buffered readings with `ts < F` in (ts, device, sensor, value) order and fires
//! every deadline `d < F` (a deadline is cancelled by readings at `≤ d`, which are all in).
//! The decisions are therefore the same whatever the arrival order within the lateness
//! bound, the batch sizes or the number of workers. At the end of input (empty frontier) the
//! remaining readings are applied and deadlines up to the last frontier fire; later ones do
//! not: the end of a file is not the passing of time. The run advances the input to the
//! largest event time seen before it closes it, so "the last frontier" is the end of the data.
//!
//! A household's readings all go to one worker (`hash(household) % workers`). Readings of
//! devices that belong to no household (park sensors, trucks) are not routed at all.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use crate::gather::GatherPerTime;
use msec_engine::alert::{AlertKind, AlertMessage, Evidence};
use msec_engine::metrics::OperatorCounters;
use msec_engine::time::now_ms;
use msec_engine::zone::ZoneClock;
use msec_engine::{Interner, ReadingBatch, SensorKind};
use serde::{Deserialize, Serialize};
use timely::container::CapacityContainerBuilder;
use timely::dataflow::Stream;
use timely::dataflow::channels::pact::{Exchange, Pipeline};
use timely::dataflow::operators::Capability;
use timely::dataflow::operators::generic::Operator;

use super::config::{AlertConfig, BaseRule};
use super::household::{AlertEvent, HomeReading, Household, NO_DEVICE};
use super::record::AlertRows;
use crate::kpi::AlertLatencies;
use crate::partition::device_hash;

/// Readings of household devices, with their household, bound for one worker.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HomeBatch {
    household: Vec<u32>,
    device: Vec<u32>,
    sensor: Vec<SensorKind>,
    ts: Vec<i64>,
    value: Vec<f64>,
    ingest_ts: Vec<i64>,
    rules: Vec<u8>,
}

impl HomeBatch {
    fn push(&mut self, (household, rules): (u32, u8), b: &ReadingBatch, i: usize) {
        self.household.push(household);
        self.rules.push(rules);
        self.device.push(b.device[i]);
        self.sensor.push(b.sensor[i]);
        self.ts.push(b.ts[i]);
        self.value.push(b.value[i]);
        self.ingest_ts.push(b.ingest_ts[i]);
    }

    fn len(&self) -> usize {
        self.ts.len()
    }
}

/// Device id → household id, resolved once per device through the interner.
struct Directory {
    cfg: Arc<AlertConfig>,
    interner: Arc<Interner>,
    /// Per device id: 0 not resolved yet; 1 no household; h + 2 household h.
    slots: Vec<u32>,
    /// Per device id: the rules that watch it.
    rules: Vec<u8>,
}

impl Directory {
    /// The device's household and the rules that watch it, or `None`.
    fn household(&mut self, device: u32) -> Option<(u32, u8)> {
        let i = device as usize;
        if i >= self.slots.len() {
            self.slots.resize(i + 1, 0);
            self.rules.resize(i + 1, 0);
        }
        if self.slots[i] == 0 {
            let resolved = self.interner.name(device).and_then(|name| {
                let (h, _) = self.cfg.household_of(&name)?;
                let label = name[h.len()..].trim_start_matches('-');
                Some((self.interner.intern(h), self.cfg.rules_for(label)))
            });
            self.slots[i] = resolved.map_or(1, |(h, _)| h.saturating_add(2));
            self.rules[i] = resolved.map_or(0, |(_, r)| r);
        }
        Some((self.slots[i].checked_sub(2)?, self.rules[i]))
    }
}

/// A reading waiting for the frontier, with the slot of its household.
#[derive(Debug, Clone, Copy)]
struct Pending {
    ts: i64,
    device: u32,
    sensor: SensorKind,
    value: f64,
    rules: u8,
    slot: u32,
}

/// The home-activity alert rules on a stream of readings.
pub trait Alerts<'scope> {
    /// Evaluates `cfg`'s rules per household; emits `raised` / `resolved` decisions.
    fn alerts(
        self,
        cfg: Arc<AlertConfig>,
        interner: Arc<Interner>,
        counters: Arc<OperatorCounters>,
    ) -> Stream<'scope, u64, Vec<AlertEvent>>;
}

impl<'scope> Alerts<'scope> for Stream<'scope, u64, Vec<ReadingBatch>> {
    fn alerts(
        self,
        cfg: Arc<AlertConfig>,
        interner: Arc<Interner>,
        counters: Arc<OperatorCounters>,
    ) -> Stream<'scope, u64, Vec<AlertEvent>> {
        let peers = self.scope().peers();
        let mut directory = Directory {
            cfg: Arc::clone(&cfg),
            interner: Arc::clone(&interner),
            slots: Vec::new(),
            rules: Vec::new(),
        };
        let routed = self.unary::<CapacityContainerBuilder<Vec<(u64, HomeBatch)>>, _, _, _>(
            Pipeline,
            "RouteByHousehold",
            move |_cap, _info| {
                let mut parts: Vec<HomeBatch> = vec![HomeBatch::default(); peers];
                move |input, output| {
                    input.for_each(|cap, data| {
                        for batch in data.drain(..) {
                            for i in 0..batch.len() {
                                if let Some(home) = directory.household(batch.device[i]) {
                                    let w = (device_hash(home.0) % peers as u64) as usize;
                                    parts[w].push(home, &batch, i);
                                }
                            }
                        }
                        let mut session = output.session(&cap);
                        for (w, part) in parts.iter_mut().enumerate() {
                            if part.len() > 0 {
                                session.give((w as u64, std::mem::take(part)));
                            }
                        }
                    });
                }
            },
        );
        routed.unary_frontier(
            Exchange::new(|(w, _): &(u64, HomeBatch)| *w),
            "AlertRules",
            move |cap, _info| {
                let mut held: Option<Capability<u64>> = Some(cap);
                let mut households: Vec<Household> = Vec::new();
                let mut slot_of: HashMap<u32, u32, ahash::RandomState> = HashMap::default();
                let mut registered: Vec<Option<i64>> = Vec::new();
                let mut deadlines: BTreeSet<(i64, u32)> = BTreeSet::new();
                let mut pending: Vec<Pending> = Vec::new();
                let mut ready: Vec<Pending> = Vec::new();
                let mut events: Vec<AlertEvent> = Vec::new();
                let mut max_ingest = i64::MIN;
                let mut last_bound = i64::MIN;
                move |(input, frontier), output| {
                    input.for_each(|_cap, data| {
                        for (_, batch) in data.drain(..) {
                            counters.add_in(batch.len());
                            for i in 0..batch.len() {
                                let h = batch.household[i];
                                let slot = match slot_of.get(&h) {
                                    Some(s) => *s,
                                    None => {
                                        let zone = interner
                                            .name(batch.device[i])
                                            .and_then(|n| cfg.household_of(&n).map(|(_, z)| z))
                                            .unwrap_or(msec_engine::zone::Zone::Fixed(0));
                                        let s = households.len() as u32;
                                        households.push(Household::new(
                                            h,
                                            ZoneClock::new(zone),
                                            &cfg,
                                        ));
                                        registered.push(None);
                                        slot_of.insert(h, s);
                                        s
                                    }
                                };
                                max_ingest = max_ingest.max(batch.ingest_ts[i]);
                                pending.push(Pending {
                                    ts: batch.ts[i],
                                    device: batch.device[i],
                                    sensor: batch.sensor[i],
                                    value: batch.value[i],
                                    rules: batch.rules[i],
                                    slot,
                                });
                            }
                        }
                    });
                    let bound = frontier
                        .frontier()
                        .iter()
                        .min()
                        .map(|t| i64::try_from(*t).unwrap_or(i64::MAX));
                    let apply_below = bound.unwrap_or(i64::MAX);
                    pending.retain(|p| {
                        if p.ts < apply_below {
                            ready.push(*p);
                            false
                        } else {
                            true
                        }
                    });
                    ready.sort_unstable_by(|a, b| {
                        (a.ts, a.device, a.sensor.code(), a.value.to_bits()).cmp(&(
                            b.ts,
                            b.device,
                            b.sensor.code(),
                            b.value.to_bits(),
                        ))
                    });
                    for p in ready.drain(..) {
                        let r = HomeReading {
                            ts: p.ts,
                            device: p.device,
                            sensor: p.sensor,
                            value: p.value,
                            rules: p.rules,
                        };
                        households[p.slot as usize].on_reading(r, &cfg, &mut events);
                        reregister(p.slot, &households, &mut registered, &mut deadlines);
                    }
                    let fire_upto = match bound {
                        Some(b) => b.saturating_sub(1),
                        None => last_bound,
                    };
                    while let Some(&(d, slot)) = deadlines.first() {
                        if d > fire_upto {
                            break;
                        }
                        households[slot as usize].fire_until(d, &cfg, &mut events);
                        reregister(slot, &households, &mut registered, &mut deadlines);
                    }
                    if !events.is_empty()
                        && let Some(cap) = held.as_ref()
                    {
                        counters.add_out(events.len());
                        for e in &mut events {
                            e.ingest_ts = max_ingest;
                        }
                        output.session(cap).give_iterator(events.drain(..));
                    }
                    match bound {
                        Some(b) => {
                            last_bound = b;
                            if let Some(cap) = held.as_mut() {
                                let t = u64::try_from(b).unwrap_or(0);
                                if *cap.time() < t {
                                    cap.downgrade(&t);
                                }
                            }
                        }
                        None => held = None,
                    }
                }
            },
        )
    }
}

/// Re-files household `slot`'s next deadline in `deadlines` if it changed.
fn reregister(
    slot: u32,
    households: &[Household],
    registered: &mut [Option<i64>],
    deadlines: &mut BTreeSet<(i64, u32)>,
) {
    let next = households[slot as usize].next_deadline();
    let old = &mut registered[slot as usize];
    if *old != next {
        if let Some(d) = old.take() {
            deadlines.remove(&(d, slot));
        }
        if let Some(d) = next {
            deadlines.insert((d, slot));
        }
        *old = next;
    }
}

/// Canonical ordering and presentation of alert decisions on the sink worker.
pub trait OrderAlerts<'scope> {
    /// Gathers each time's decisions on worker [`SINK_WORKER`](msec_engine::runtime::SINK_WORKER) and emits them as alert
    /// records sorted by (decision time, household, rule, kind, device, episode start).
    fn order_alerts(
        self,
        cfg: Arc<AlertConfig>,
        interner: Arc<Interner>,
    ) -> Stream<'scope, u64, Vec<AlertRows>>;
}

impl<'scope> OrderAlerts<'scope> for Stream<'scope, u64, Vec<AlertEvent>> {
    fn order_alerts(
        self,
        cfg: Arc<AlertConfig>,
        interner: Arc<Interner>,
    ) -> Stream<'scope, u64, Vec<AlertRows>> {
        self.gather_per_time("OrderAlerts", move |events: Vec<AlertEvent>| {
            let rows = present(events, &cfg, &interner);
            (!rows.0.is_empty()).then_some(rows)
        })
    }
}

/// Drops alert records already delivered by an earlier run over the same readings.
pub trait SkipDelivered<'scope> {
    /// Passes on only records whose `alert_id/kind` is not in `delivered` (see
    /// [`delivered_key`]), so a restart that re-reads its input raises no episode twice.
    fn skip_delivered(self, delivered: Arc<HashSet<String>>)
    -> Stream<'scope, u64, Vec<AlertRows>>;
}

/// The key of an alert record in [`SkipDelivered`]'s set: `alert_id/kind`.
pub fn delivered_key(alert_id: &str, kind: &str) -> String {
    format!("{alert_id}/{kind}")
}

impl<'scope> SkipDelivered<'scope> for Stream<'scope, u64, Vec<AlertRows>> {
    fn skip_delivered(
        self,
        delivered: Arc<HashSet<String>>,
    ) -> Stream<'scope, u64, Vec<AlertRows>> {
        self.unary(Pipeline, "SkipDelivered", move |_cap, _info| {
            move |input, output| {
                input.for_each(|cap, data| {
                    let mut session = output.session(&cap);
                    for mut rows in data.drain(..) {
                        if !delivered.is_empty() {
                            rows.0.retain(|m| {
                                !delivered.contains(&delivered_key(&m.alert_id, m.kind.as_str()))
                            });
                        }
                        if !rows.0.is_empty() {
                            session.give(rows);
                        }
                    }
                });
            }
        })
    }
}

/// Alert latencies for `kpi_latency`.
pub trait AlertLatency<'scope> {
    /// Per raised alert: household, decision time and `emit − ingest` of the evidence that
    /// completed it.
    fn alert_latencies(self, interner: Arc<Interner>) -> Stream<'scope, u64, Vec<AlertLatencies>>;
}

impl<'scope> AlertLatency<'scope> for Stream<'scope, u64, Vec<AlertRows>> {
    fn alert_latencies(self, interner: Arc<Interner>) -> Stream<'scope, u64, Vec<AlertLatencies>> {
        self.unary(Pipeline, "AlertLatencies", move |_cap, _info| {
            move |input, output| {
                input.for_each(|cap, data| {
                    let mut out = AlertLatencies::default();
                    for rows in data.drain(..) {
                        for m in rows.0.iter().filter(|m| m.kind == AlertKind::Raised) {
                            out.push(
                                interner.intern(&m.household),
                                m.decision_ts,
                                m.emit_ts - m.ingest_ts,
                            );
                        }
                    }
                    if !out.is_empty() {
                        output.session(&cap).give(out);
                    }
                });
            }
        })
    }
}

/// Sorts decisions canonically and turns them into alert records.
pub fn present(events: Vec<AlertEvent>, cfg: &AlertConfig, interner: &Interner) -> AlertRows {
    let name = |id: u32| -> Arc<str> {
        if id == NO_DEVICE {
            Arc::from("")
        } else {
            interner.name(id).unwrap_or_else(|| Arc::from(""))
        }
    };
    let mut keyed: Vec<_> = events
        .into_iter()
        .map(|e| {
            let household = name(e.household);
            let device = name(e.device);
            (
                (
                    e.decision_ts,
                    Arc::clone(&household),
                    e.rule,
                    e.kind,
                    Arc::clone(&device),
                    e.start_ts,
                ),
                household,
                device,
                e,
            )
        })
        .collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    let emit_ts = now_ms();
    let rows = keyed
        .into_iter()
        .map(|(_, household, device, e)| {
            let rule = cfg.rule_name(e.rule);
            let has_device = e.device != NO_DEVICE;
            let label = device
                .strip_prefix(&*household)
                .map_or(&*device, |s| s.trim_start_matches('-'));
            let mut message = cfg.message(e.rule).to_owned();
            if has_device {
                message.push_str(" - ");
                message.push_str(label);
            } else if e.rule == BaseRule::Inactivity.code() {
                message.push_str(&format!(
                    " for {} h {:02} min",
                    cfg.inactivity_ms / 3_600_000,
                    cfg.inactivity_ms / 60_000 % 60
                ));
            }
            AlertMessage {
                alert_id: alert_id(&household, rule, &device, e.start_ts),
                kind: e.kind,
                household: household.to_string(),
                rule: rule.to_owned(),
                criticity: cfg.criticity(e.rule),
                device: has_device.then(|| device.to_string()),
                message,
                evidence: e
                    .evidence
                    .iter()
                    .map(|(d, ts)| Evidence {
                        device: name(*d).to_string(),
                        ts: *ts,
                    })
                    .collect(),
                decision_ts: e.decision_ts,
                ingest_ts: e.ingest_ts,
                emit_ts,
            }
        })
        .collect();
    AlertRows(rows)
}

/// The episode id: FNV-1a (64 bit) of household, rule, device and start time, in hex.
/// Deterministic across runs, machines and worker counts.
pub fn alert_id(household: &str, rule: &str, device: &str, start_ts: i64) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    };
    feed(household.as_bytes());
    feed(rule.as_bytes());
    feed(device.as_bytes());
    feed(&start_ts.to_le_bytes());
    format!("{h:016x}")
}
