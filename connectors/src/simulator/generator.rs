//! The generator loop: simulated time is cut into slices (1 s – 1 min, about 50 000
//! readings each); every device model appends the readings of the slice, the slice is put
//! in event-time order and handed to the [`Emitter`], which writes JSON lines. Memory is one
//! slice plus the disorder buffer, whatever the length of the run.

use std::io::Read;
use std::time::Instant;

use msec_engine::SensorKind;

use super::config::{Plan, SimulatorConfig};
use super::emit::Emitter;
use super::home::Household;
use super::pace::Pacer;
use super::park::Park;
use super::reports::Citizens;
use super::trucks::Trucks;
use super::{Incident, SimulatorManifest};
use crate::error::Result;

/// One simulated reading.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct SimReading {
    pub ts: i64,
    pub device: u32,
    pub sensor: SensorKind,
    pub value: f64,
    pub pos: Option<(f64, f64)>,
    /// Evidence of an incident: never replaced by a bad record.
    pub evidence: bool,
    /// A citizen report rather than a reading: `device` is the reporter, `value` the smile.
    pub report: Option<SimReport>,
}

/// What makes a [`SimReading`] a citizen report.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct SimReport {
    /// Report number (`r-<seq>`).
    pub seq: u32,
    /// Index into [`THEMES`](super::reports::THEMES).
    pub theme: u8,
    /// The photo's digest.
    pub digest: [u64; 2],
}

impl SimReading {
    pub fn new(ts: i64, device: u32, sensor: SensorKind, value: f64) -> Self {
        Self {
            ts,
            device,
            sensor,
            value,
            pos: None,
            evidence: false,
            report: None,
        }
    }

    pub fn at(mut self, lat: f64, lon: f64) -> Self {
        self.pos = Some((lat, lon));
        self
    }
}

/// Device names by simulator-local id.
#[derive(Debug, Default)]
pub(crate) struct Devices {
    names: Vec<String>,
}

impl Devices {
    /// Registers a device; returns its id.
    pub fn add(&mut self, name: String) -> u32 {
        self.names.push(name);
        (self.names.len() - 1) as u32
    }

    /// The name of `id` (`?` if unknown).
    pub fn name(&self, id: u32) -> &str {
        self.names.get(id as usize).map_or("?", String::as_str)
    }
}

/// The whole simulated city, producing JSON lines slice by slice.
#[derive(Debug)]
pub(crate) struct Generator {
    plan: Plan,
    cursor: i64,
    devices: Devices,
    park: Park,
    trucks: Trucks,
    homes: Vec<Household>,
    citizens: Citizens,
    slice: Vec<SimReading>,
    emitter: Emitter,
    incidents: Vec<Incident>,
    done: bool,
}

impl Generator {
    /// A generator for `cfg` (validated here).
    pub fn new(cfg: &SimulatorConfig) -> Result<Self> {
        let plan = cfg.plan()?;
        let mut devices = Devices::default();
        let park = Park::new(
            cfg.seed,
            cfg.start_ms,
            plan.env_devices,
            plan.crowd_counters,
            plan.speedup,
            &mut devices,
        );
        let trucks = Trucks::new(
            cfg.seed,
            cfg.start_ms,
            plan.trucks,
            plan.speedup,
            &mut devices,
        );
        let homes = (0..cfg.households)
            .map(|i| {
                Household::new(
                    cfg.seed,
                    i,
                    cfg.start_ms,
                    plan.end_ms,
                    cfg.incident_rate,
                    &mut devices,
                )
            })
            .collect();
        let citizens = Citizens::new(
            cfg.seed,
            cfg.start_ms,
            cfg.reporters,
            cfg.report_rate,
            &mut devices,
        );
        Ok(Self {
            cursor: cfg.start_ms,
            citizens,
            devices,
            park,
            trucks,
            homes,
            slice: Vec::new(),
            emitter: Emitter::new(cfg.seed, cfg.disorder_ms, cfg.bad_rate),
            incidents: Vec::new(),
            done: false,
            plan,
        })
    }

    /// Appends the JSON lines of the next slice to `out`; `false` once the run is over.
    /// A slice may produce no lines (a quiet second).
    pub fn next_chunk(&mut self, out: &mut Vec<u8>) -> bool {
        if self.done {
            return false;
        }
        if self.cursor >= self.plan.end_ms {
            self.emitter.drain(i64::MAX, out, &self.devices);
            self.done = true;
            return true;
        }
        let to = self
            .cursor
            .saturating_add(self.plan.slice_ms)
            .min(self.plan.end_ms);
        self.slice.clear();
        self.park.generate(to, &mut self.slice);
        self.trucks.generate(to, &mut self.slice);
        for home in &mut self.homes {
            home.generate(to, &mut self.slice, &mut self.incidents);
        }
        self.citizens.generate(to, &mut self.slice);
        self.slice.sort_by_key(|r| r.ts);
        for r in self.slice.drain(..) {
            self.emitter.push(r, out, &self.devices);
        }
        self.emitter.drain(to, out, &self.devices);
        self.cursor = to;
        true
    }

    /// The manifest of what was written so far (complete once `next_chunk` returned `false`).
    pub fn manifest(&self) -> SimulatorManifest {
        let mut incidents = self.incidents.clone();
        incidents.sort_by(|a, b| {
            (a.start_ts, &a.household, a.kind).cmp(&(b.start_ts, &b.household, b.kind))
        });
        SimulatorManifest {
            records: self.emitter.records,
            readings: self.emitter.readings,
            reports: self.emitter.reports,
            bad: self.emitter.bad_counts(),
            incidents,
        }
    }
}

/// The generator as a byte stream, for the JSON-lines pump: as fast as it is read, or paced
/// (whole lines only, at the [`Pacer`]'s rate; each read is one batch).
#[derive(Debug)]
pub(crate) struct GenReader {
    pub generator: Generator,
    buf: Vec<u8>,
    pos: usize,
    pace: Option<Pacer>,
    /// Complete lines in `buf[pos..]` (kept when paced).
    lines: u64,
    /// The generator has nothing more.
    finished: bool,
}

impl GenReader {
    pub fn new(generator: Generator) -> Self {
        Self {
            generator,
            buf: Vec::new(),
            pos: 0,
            pace: None,
            lines: 0,
            finished: false,
        }
    }

    /// Releases lines at `pacer`'s rate.
    pub fn paced(mut self, pacer: Pacer) -> Self {
        self.pace = Some(pacer);
        self
    }

    /// Appends the next non-empty chunk to the buffer; `false` once the generator is done.
    fn refill(&mut self) -> bool {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        while !self.finished {
            let from = self.buf.len();
            if !self.generator.next_chunk(&mut self.buf) {
                self.finished = true;
                break;
            }
            let added = memchr::memchr_iter(b'\n', &self.buf[from..]).count() as u64;
            if added > 0 {
                self.lines += added;
                return true;
            }
        }
        false
    }

    fn read_paced(&mut self, dst: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if self.pos == self.buf.len() && !self.refill() {
                return Ok(0);
            }
            let Some(pacer) = self.pace.as_mut() else {
                return Ok(0);
            };
            let now = Instant::now();
            match pacer.poll(now) {
                Ok(n) => {
                    let rest = &self.buf[self.pos..];
                    let limit = dst.len().min(rest.len());
                    let (mut end, mut k) = (0, 0);
                    for i in memchr::memchr_iter(b'\n', &rest[..limit]) {
                        end = i + 1;
                        k += 1;
                        if k == n {
                            break;
                        }
                    }
                    if k == 0 {
                        // No whole line fits (or a last line without a newline): pass bytes on.
                        end = limit;
                    }
                    dst[..end].copy_from_slice(&rest[..end]);
                    self.pos += end;
                    self.lines -= k;
                    pacer.released(k, now);
                    return Ok(end);
                }
                Err(wake) => {
                    // Generate ahead in the idle time, else sleep until the next batch.
                    if self.lines < pacer.low_water() && !self.finished && self.refill() {
                        continue;
                    }
                    std::thread::sleep(wake.saturating_duration_since(Instant::now()));
                }
            }
        }
    }
}

impl Read for GenReader {
    fn read(&mut self, dst: &mut [u8]) -> std::io::Result<usize> {
        if self.pace.is_some() {
            return self.read_paced(dst);
        }
        while self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
            if !self.generator.next_chunk(&mut self.buf) {
                return Ok(0);
            }
        }
        let n = dst.len().min(self.buf.len() - self.pos);
        dst[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
