//! Reading seed and state files, and writing the state file atomically.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::store::Store;

/// Largest seed or state file read, so a wrong path cannot make the emulator load gigabytes.
const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// Reads a store file; `what` ("seed", "state") names it in errors.
pub fn load(path: &Path, what: &str) -> Result<Store, String> {
    let shown = path.display();
    let size = fs::metadata(path)
        .map_err(|e| format!("{what} file {shown}: {e}"))?
        .len();
    if size > MAX_FILE_BYTES {
        return Err(format!(
            "{what} file {shown} is {size} bytes; the limit is {MAX_FILE_BYTES}"
        ));
    }
    let text = fs::read_to_string(path).map_err(|e| format!("{what} file {shown}: {e}"))?;
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| format!("{what} file {shown} is not valid JSON: {e}"))?;
    Store::from_json(&value).map_err(|e| format!("{what} file {shown}: {e}"))
}

/// Writes `store` to `path` through a temporary file in the same directory and a rename, so a
/// crash leaves either the old or the new file, never half of one.
pub fn save(path: &Path, store: &Store) -> io::Result<()> {
    let text = serde_json::to_vec_pretty(&store.to_json()).map_err(io::Error::other)?;
    let tmp = temp_path(path);
    let result = (|| {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(&text)?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

fn temp_path(path: &Path) -> PathBuf {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "state.json".into());
    name.push(format!(".{}.tmp", std::process::id()));
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_then_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let mut store = Store::default();
        store.ensure("i", Some("c"));
        save(&path, &store).unwrap();
        assert_eq!(load(&path, "state").unwrap(), store);
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary file is left behind"
        );
    }

    #[test]
    fn errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seed.json");
        assert!(load(&path, "seed").unwrap_err().starts_with("seed file "));
        fs::write(&path, "{").unwrap();
        assert!(load(&path, "seed")
            .unwrap_err()
            .contains("is not valid JSON"));
    }
}
