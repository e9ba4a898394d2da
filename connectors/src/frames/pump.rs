//! The merge loop: takes the frame with the smallest event time among the inputs' heads
//! (ties: the input listed first), decodes it, and batches the results.
//!
//! A [`ReadingBatch`](msec_engine::ReadingBatch) names one source, so a batch holding
//! readings of one input is sent before a reading of another input is added; dead letters
//! name their own input and never force a flush. On the two Tour Perret files that is one
//! extra batch: the overlap's second copies are all `duplicate`.

use msec_engine::source::{BatchSender, SourceSummary};

use super::decode::{At, FrameDecoder};
use super::input::Input;
use crate::error::{ConnectorError, Result};
use crate::pending::Pending;

/// Callback told the number of input bytes consumed so far, once per batch.
pub(crate) type Progress = Box<dyn FnMut(u64) + Send>;

/// The inputs of one source and what turns their frames into batches.
pub(crate) struct Pump {
    pub name: String,
    pub inputs: Vec<Input>,
    pub decoder: FrameDecoder,
    pub batch_rows: usize,
    pub progress: Option<Progress>,
}

impl Pump {
    /// Reads every input to its end and sends the batches.
    pub(crate) fn run(mut self, out: &BatchSender) -> Result<SourceSummary> {
        let mut summary = SourceSummary::default();
        let first_id = self.inputs.first().map_or(0, |i| i.source_id);
        let mut pending = Pending::new(first_id, self.batch_rows);
        for i in 0..self.inputs.len() {
            if let Err(e) = self.inputs[i].advance() {
                return Err(self.fail(e, &mut pending, &mut summary, out));
            }
            if self.inputs[i].head.is_none() {
                pending.bytes += self.inputs[i].trailing;
            }
        }
        loop {
            let next = self
                .inputs
                .iter()
                .enumerate()
                .filter_map(|(i, input)| input.head.as_ref().map(|h| (h.key, i)))
                .min();
            let Some((_, i)) = next else { break };
            let input = &mut self.inputs[i];
            let Some(head) = input.head.take() else { break };
            if pending.readings.source != input.source_id {
                if !pending.readings.is_empty() {
                    self.flush(&mut pending, &mut summary, out, i)?;
                }
                pending.readings.source = self.inputs[i].source_id;
            }
            let input = &self.inputs[i];
            pending.records += 1;
            pending.bytes += head.bytes;
            let at = At {
                input: i,
                source: &input.source,
                line: head.line,
                now: pending.now,
            };
            self.decoder.decode(
                head.frame,
                &head.raw,
                &at,
                &mut pending.readings,
                &mut pending.dead,
            );
            let advanced = self.inputs[i].advance();
            if let Err(e) = advanced {
                return Err(self.fail(e, &mut pending, &mut summary, out));
            }
            if self.inputs[i].head.is_none() {
                pending.bytes += self.inputs[i].trailing;
            }
            if pending.readings.len() >= self.batch_rows || pending.dead.len() >= self.batch_rows {
                self.flush(&mut pending, &mut summary, out, i)?;
            }
        }
        let last = self.inputs.len().saturating_sub(1);
        self.flush(&mut pending, &mut summary, out, last)?;
        Ok(summary)
    }

    /// Sends what was read before a read error, then returns the error.
    fn fail(
        &mut self,
        e: ConnectorError,
        pending: &mut Pending,
        summary: &mut SourceSummary,
        out: &BatchSender,
    ) -> ConnectorError {
        match self.flush(pending, summary, out, 0) {
            Ok(()) => e,
            Err(downstream) => downstream,
        }
    }

    /// Sends the pending batch; `input` names the input for a downstream error.
    fn flush(
        &mut self,
        p: &mut Pending,
        summary: &mut SourceSummary,
        out: &BatchSender,
        input: usize,
    ) -> Result<()> {
        let line = self.inputs.get(input).map_or(0, Input::line_no);
        let sent = p
            .flush(self.batch_rows, self.decoder.watermark(), summary, out)
            .map_err(|engine| ConnectorError::Downstream {
                source_name: self.name.clone(),
                line,
                engine,
            })?;
        if sent && let Some(progress) = self.progress.as_mut() {
            progress(summary.bytes);
        }
        Ok(())
    }
}
