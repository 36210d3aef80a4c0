//! Deterministic tar headers: ustar, uid/gid 0, empty user and group names, mtime 0, mode 0644
//! for files and 0755 for folders, and a PAX `path` record only when a name does not fit ustar.

use std::io::{self, Write};

/// Build the header block(s) for a member: an optional PAX header plus the ustar header.
pub fn header_bytes(name: &str, size: u64, is_dir: bool) -> io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(1024);
    let mut h = tar::Header::new_ustar();
    h.set_size(size);
    h.set_mode(if is_dir { 0o755 } else { 0o644 });
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_username("")?;
    h.set_groupname("")?;
    h.set_entry_type(if is_dir {
        tar::EntryType::Directory
    } else {
        tar::EntryType::Regular
    });
    if h.set_path(name).is_err() || name.len() > 255 {
        // Needs PAX: record the full name, put a truncated one in the ustar header.
        let rec = pax_record("path", name);
        let mut ph = tar::Header::new_ustar();
        ph.set_size(rec.len() as u64);
        ph.set_mode(0o644);
        ph.set_uid(0);
        ph.set_gid(0);
        ph.set_mtime(0);
        ph.set_username("")?;
        ph.set_groupname("")?;
        ph.set_entry_type(tar::EntryType::XHeader);
        let short: String = name
            .chars()
            .rev()
            .take(90)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        ph.set_path(format!("PaxHeaders/{}", short.trim_start_matches('/')))?;
        ph.set_cksum();
        out.extend_from_slice(ph.as_bytes());
        out.extend_from_slice(&rec);
        pad(&mut out, rec.len() as u64)?;
        let short: String = name
            .chars()
            .rev()
            .take(99)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        h.set_path(short.trim_start_matches('/'))?;
    }
    h.set_cksum();
    out.extend_from_slice(h.as_bytes());
    Ok(out)
}

/// A PAX record `"<len> key=value\n"`, where len counts the whole record.
fn pax_record(key: &str, value: &str) -> Vec<u8> {
    let body = format!(" {key}={value}\n");
    let mut len = body.len() + 1;
    while format!("{len}{body}").len() != len {
        len += 1;
    }
    format!("{len}{body}").into_bytes()
}

/// Zero bytes that pad a member of `size` bytes to a 512-byte block.
pub fn padding(size: u64) -> usize {
    ((512 - (size % 512)) % 512) as usize
}

fn pad(out: &mut impl Write, size: u64) -> io::Result<()> {
    out.write_all(&[0u8; 512][..padding(size)])
}

/// Two zero blocks end a tar.
pub const TRAILER: [u8; 1024] = [0u8; 1024];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_record_length_counts_itself() {
        let r = pax_record("path", "a");
        assert_eq!(r, b"9 path=a\n");
        let long = "x".repeat(95);
        let r = pax_record("path", &long);
        let s = String::from_utf8(r.clone()).unwrap();
        let n: usize = s.split(' ').next().unwrap().parse().unwrap();
        assert_eq!(n, r.len());
    }

    #[test]
    fn long_names_round_trip_through_tar_crate() {
        let name = format!("blobs/sha512/{}", "ab".repeat(64));
        let mut buf = header_bytes(&name, 3, false).unwrap();
        buf.extend_from_slice(b"abc");
        buf.extend(std::iter::repeat_n(0u8, padding(3)));
        buf.extend_from_slice(&TRAILER);
        let mut a = tar::Archive::new(&buf[..]);
        let e: Vec<String> = a
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(e, vec![name]);
    }
}
