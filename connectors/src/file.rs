//! Opening an input file the way every file source does: a directory is refused, a name
//! ending in `.gz` is gunzipped (multi-member streams included), and the size is known only
//! for a plain, uncompressed regular file (for a progress bar).

use std::fs::File;
use std::io::Read;
use std::path::Path;

use flate2::read::MultiGzDecoder;

use crate::error::{ConnectorError, Result};

/// An opened input file.
pub(crate) struct OpenedFile {
    /// The bytes, gunzipped for `.gz`.
    pub reader: Box<dyn Read + Send>,
    /// Size in bytes of a plain regular file; `None` for gzip and non-regular files.
    pub size: Option<u64>,
    /// Whether the file is not a regular file (a FIFO or a character device): a live stream.
    pub live: bool,
}

/// Opens `path`; see the module docs.
pub(crate) fn open_file(path: &Path) -> Result<OpenedFile> {
    let open_err = |source| ConnectorError::Open {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(open_err)?;
    let meta = file.metadata().map_err(open_err)?;
    if meta.is_dir() {
        return Err(open_err(std::io::Error::new(
            std::io::ErrorKind::IsADirectory,
            "is a directory",
        )));
    }
    let live = !meta.is_file();
    let gz = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"));
    Ok(if gz {
        OpenedFile {
            reader: Box::new(MultiGzDecoder::new(file)),
            size: None,
            live,
        }
    } else {
        OpenedFile {
            reader: Box::new(file),
            size: (!live).then_some(meta.len()),
            live,
        }
    })
}
