//! Opening a dataset directory for writing: creating the chain log of a new dataset, and
//! cleaning up (or refusing) what a previous writer left behind.

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use crate::chain::{ChainLog, Header, Record};
use crate::encoding::FieldDesc;
use crate::error::{DatasetError, Result, io_err};
use crate::layout::{
    CHAIN_LOG, is_parquet, is_temp_segment, list_files, new_nonce, now_rfc3339, sync_dir,
};
use crate::spec::DatasetSpec;

/// Writes a new chain log holding only its header. The header is written to a temp file and
/// hard-linked into place, so a concurrent creator cannot overwrite it and a crash leaves no
/// half header.
pub(super) fn create_log(
    name: &str,
    dir: &Path,
    spec: &DatasetSpec,
    fields: Vec<FieldDesc>,
) -> Result<()> {
    if let Some(f) = list_files(name, dir)?.into_iter().find(|f| is_parquet(f)) {
        tracing::warn!(dataset = %name, file = %f, "directory holds Parquet files but no chain log");
        return Err(DatasetError::NotADataset {
            dataset: name.to_owned(),
            path: dir.to_owned(),
        });
    }
    let nonce = new_nonce(name);
    let header = Header::new(name, nonce, now_rfc3339(), spec.time_column.clone(), fields);
    let line = Record::Header(header).to_line();
    let temp = dir.join(format!(".chain.{}.tmp", &nonce.to_hex()[..16]));
    let log_path = dir.join(CHAIN_LOG);
    let write = || -> std::io::Result<()> {
        let mut f = File::create(&temp)?;
        f.write_all(line.as_bytes())?;
        f.sync_all()
    };
    write().map_err(io_err(name, &temp))?;
    let linked = match fs::hard_link(&temp, &log_path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        // File systems without hard links: fall back to a rename.
        Err(_) => fs::rename(&temp, &log_path),
    };
    let _ = fs::remove_file(&temp);
    linked.map_err(io_err(name, &log_path))?;
    sync_dir(dir).map_err(io_err(name, dir))
}

/// Removes leftover temp files; refuses Parquet files the chain does not name.
pub(super) fn clean_directory(name: &str, dir: &Path, chain: &ChainLog) -> Result<()> {
    for f in list_files(name, dir)? {
        if is_temp_segment(&f) || (f.starts_with(".chain.") && f.ends_with(".tmp")) {
            let p = dir.join(&f);
            tracing::info!(dataset = %name, file = %f, "removing leftover temp file");
            fs::remove_file(&p).map_err(io_err(name, &p))?;
        } else if is_parquet(&f) && !chain.entries.iter().any(|e| e.file == f) {
            return Err(DatasetError::UnchainedSegment {
                dataset: name.to_owned(),
                file: f,
            });
        }
    }
    Ok(())
}

/// The first difference between a dataset's schema and a writer's, for messages.
pub(super) fn schema_difference(have: &[FieldDesc], want: &[FieldDesc]) -> String {
    let show = |f: &FieldDesc| {
        format!(
            "{}: {}{}",
            f.name,
            f.data_type,
            if f.nullable { "" } else { " not null" }
        )
    };
    for (i, (h, w)) in have.iter().zip(want).enumerate() {
        if h != w {
            return format!(
                "column {i}: the dataset has {}, the writer {}",
                show(h),
                show(w)
            );
        }
    }
    format!(
        "the dataset has {} columns, the writer {}",
        have.len(),
        want.len()
    )
}
