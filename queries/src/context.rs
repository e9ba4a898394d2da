//! The DataFusion session over a data directory: one table per dataset, plus `catalog`.

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::prelude::{SessionConfig, SessionContext};
use msec_datasets::layout::{CHAIN_LOG, is_parquet, list_files, validate_name};
use msec_datasets::{Catalog, ChainLog};

use crate::error::{QueryError, Result};

/// Names of the datasets under `root`: directories with a valid name and a chain log, sorted.
fn dataset_names(root: &Path) -> Result<Vec<String>> {
    let rd = std::fs::read_dir(root).map_err(|e| QueryError::DataDir {
        path: root.to_owned(),
        message: e.to_string(),
    })?;
    let mut names = Vec::new();
    for entry in rd.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.path().is_dir()
            && validate_name(&name).is_ok()
            && entry.path().join(CHAIN_LOG).is_file()
        {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// Opens a session with every dataset under `root` registered as a table and the catalog as
/// `catalog`. Tables read the segment files directly with DataFusion's Parquet reader.
pub async fn open_context(root: &Path) -> Result<SessionContext> {
    let config = SessionConfig::new().with_information_schema(true);
    let ctx = SessionContext::new_with_config(config);
    for name in dataset_names(root)? {
        register_dataset(&ctx, root, &name).await?;
    }
    let catalog = Catalog::load(root)?;
    let batch = catalog.to_record_batch()?;
    let table = MemTable::try_new(batch.schema(), vec![vec![batch]])?;
    ctx.register_table("catalog", Arc::new(table))?;
    Ok(ctx)
}

async fn register_dataset(ctx: &SessionContext, root: &Path, name: &str) -> Result<()> {
    let dir = root.join(name);
    let err = |message: String| QueryError::Dataset {
        dataset: name.to_owned(),
        message,
    };
    let files = list_files(name, &dir)?;
    if !files.iter().any(|f| is_parquet(f)) {
        // No sealed segment yet: an empty table with the schema recorded in the chain log.
        let log = ChainLog::read(root, name)?;
        let schema = msec_datasets::encoding::arrow_schema(name, &log.header.schema)?;
        let table = MemTable::try_new(schema, vec![vec![]])?;
        ctx.register_table(name, Arc::new(table))?;
        return Ok(());
    }
    let path = format!(
        "{}/",
        dir.canonicalize()
            .map_err(|e| err(e.to_string()))?
            .display()
    );
    let url = ListingTableUrl::parse(&path)?;
    let options =
        ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
    let schema = options.infer_schema(&ctx.state(), &url).await?;
    let config = ListingTableConfig::new(url)
        .with_listing_options(options)
        .with_schema(schema);
    ctx.register_table(name, Arc::new(ListingTable::try_new(config)?))?;
    Ok(())
}

/// Names of the tables registered in `ctx` (datasets and `catalog`), sorted.
pub fn registered_tables(ctx: &SessionContext) -> Vec<String> {
    let mut names: Vec<String> = ctx
        .catalog("datafusion")
        .and_then(|c| c.schema("public"))
        .map(|s| s.table_names())
        .unwrap_or_default();
    names.sort();
    names
}

/// Plans and runs `sql`, collecting the result.
pub async fn run_sql(ctx: &SessionContext, sql: &str) -> Result<Vec<RecordBatch>> {
    let df = ctx.sql(sql).await?;
    Ok(df.collect().await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{AsArray, Int64Array};
    use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema};
    use msec_datasets::{DatasetSpec, DatasetWriter, WriterOptions};

    fn schema() -> datafusion::arrow::datatypes::SchemaRef {
        Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]))
    }

    async fn count(ctx: &SessionContext, sql: &str) -> i64 {
        let b = run_sql(ctx, sql).await.expect("query");
        b[0].column(0).as_primitive::<Int64Type>().value(0)
    }

    #[tokio::test]
    async fn datasets_with_and_without_segments_are_tables() {
        let root = tempfile::tempdir().expect("tempdir");
        let mut w = DatasetWriter::open(
            root.path(),
            DatasetSpec::new("full"),
            schema(),
            WriterOptions::default(),
        )
        .expect("open");
        let batch = RecordBatch::try_new(schema(), vec![Arc::new(Int64Array::from(vec![1, 2, 3]))])
            .expect("batch");
        w.write(&batch).expect("write");
        w.finish().expect("finish");
        DatasetWriter::open(
            root.path(),
            DatasetSpec::new("empty"),
            schema(),
            WriterOptions::default(),
        )
        .expect("open")
        .finish()
        .expect("finish");
        std::fs::create_dir(root.path().join("not_a_dataset")).expect("dir");

        let ctx = open_context(root.path()).await.expect("context");
        assert_eq!(registered_tables(&ctx), vec!["catalog", "empty", "full"]);
        assert_eq!(count(&ctx, "SELECT sum(x) FROM full").await, 6);
        assert_eq!(count(&ctx, "SELECT count(*) FROM empty").await, 0);
        assert!(run_sql(&ctx, "SELECT * FROM nope").await.is_err());
    }
}
