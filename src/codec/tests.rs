//! Unit tests of the codec: truncation, length-prefix limits, round trips, bit packing.
use super::*;

#[test]
fn integers_round_trip_little_endian() {
    let mut w = Writer::with_capacity(32);
    w.u8(0xab);
    w.u16(0x1234);
    w.u32(0xdead_beef);
    w.u64(0x0102_0304_0506_0708);
    w.i32(-5);
    w.f32(1.5);
    let bytes = w.into_vec();
    assert_eq!(&bytes[..7], &[0xab, 0x34, 0x12, 0xef, 0xbe, 0xad, 0xde]);
    let mut r = Reader::new(&bytes, "ints");
    assert_eq!(r.u8().unwrap(), 0xab);
    assert_eq!(r.u16().unwrap(), 0x1234);
    assert_eq!(r.u32().unwrap(), 0xdead_beef);
    assert_eq!(r.u64().unwrap(), 0x0102_0304_0506_0708);
    assert_eq!(r.i32().unwrap(), -5);
    assert_eq!(r.f32().unwrap(), 1.5);
    assert!(r.is_empty());
    r.finish().unwrap();
}

#[test]
fn truncated_input_is_a_typed_error_and_leaves_the_cursor() {
    let bytes = [1u8, 2, 3];
    let mut r = Reader::new(&bytes, "msg");
    assert_eq!(r.u16().unwrap(), 0x0201);
    r.field("count");
    assert_eq!(
        r.u32(),
        Err(CodecError::Truncated {
            what: "count",
            offset: 2,
            needed: 4,
            available: 1
        })
    );
    assert_eq!(r.position(), 2);
    assert_eq!(r.u8().unwrap(), 3);
    assert!(matches!(
        Reader::new(&[], "m").u64(),
        Err(CodecError::Truncated { .. })
    ));
    // An item count whose byte length overflows is truncation, not a wrapped length.
    let mut r = Reader::new(&bytes, "items");
    assert!(matches!(
        r.take_items(usize::MAX / 2, 4),
        Err(CodecError::Truncated {
            needed: usize::MAX,
            ..
        })
    ));
    assert_eq!(r.take_items(1, 3).unwrap(), &bytes);
}

#[test]
fn overlong_length_prefix_is_refused_before_reading() {
    // A prefix announcing 4 GiB over 3 bytes of input: refused against the limit, and
    // (with a generous limit) against the bytes present; nothing is allocated either way
    // since readers only borrow.
    let bytes = [0xff, 0xff, 0xff, 0xff, 1, 2, 3];
    let mut r = Reader::new(&bytes, "blob");
    assert_eq!(
        r.bytes_u32(1 << 20),
        Err(CodecError::TooLong {
            what: "blob",
            len: u32::MAX as usize,
            max: 1 << 20
        })
    );
    assert_eq!(r.position(), 0, "cursor put back on the prefix");
    assert!(matches!(
        r.bytes_u32(usize::MAX),
        Err(CodecError::Truncated {
            offset: 4,
            available: 3,
            ..
        })
    ));
    assert_eq!(r.position(), 0);
    let mut r = Reader::new(&[5, 0, 1], "short");
    assert!(matches!(r.bytes_u16(10), Err(CodecError::Truncated { .. })));
    let mut r = Reader::new(&[9, 0], "name");
    assert!(matches!(
        r.bytes_u8(8),
        Err(CodecError::TooLong { len: 9, max: 8, .. })
    ));
}

#[test]
fn length_prefixed_round_trip() {
    let mut w = Writer::new();
    w.bytes_u32(b"");
    w.bytes_u32(b"hello");
    w.u8(2);
    w.bytes(b"ab");
    w.u16(3);
    w.bytes(b"xyz");
    let bytes = w.into_vec();
    let mut r = Reader::new(&bytes, "blobs");
    assert_eq!(r.bytes_u32(0).unwrap(), b"");
    assert_eq!(r.bytes_u32(5).unwrap(), b"hello");
    assert_eq!(r.bytes_u8(2).unwrap(), b"ab");
    assert_eq!(r.bytes_u16(3).unwrap(), b"xyz");
    r.finish().unwrap();
}

#[test]
fn tag_length_and_trailing_checks() {
    let mut r = Reader::new(&[0x11, 1, 2], "tagged");
    assert_eq!(
        r.clone().tag(0x12),
        Err(CodecError::BadTag {
            what: "tagged",
            expected: 0x12,
            got: 0x11
        })
    );
    r.tag(0x11).unwrap();
    assert!(matches!(
        r.expect_remaining(3),
        Err(CodecError::LengthMismatch {
            expected: 3,
            got: 2,
            ..
        })
    ));
    r.expect_remaining(2).unwrap();
    r.u8().unwrap();
    assert_eq!(
        r.clone().finish(),
        Err(CodecError::TrailingBytes {
            what: "tagged",
            offset: 2,
            count: 1
        })
    );
    assert!(matches!(
        Reader::new(&[], "t").tag(1),
        Err(CodecError::Truncated { .. })
    ));
}

#[test]
fn split_tail_hides_a_trailer() {
    let bytes = [1, 2, 3, 4, 5];
    let mut r = Reader::new(&bytes, "file");
    r.u8().unwrap();
    assert_eq!(r.split_tail(2).unwrap(), &[4, 5]);
    assert_eq!(r.remaining(), 2);
    assert_eq!(r.take(2).unwrap(), &[2, 3]);
    assert!(r.clone().u8().is_err());
    r.finish().unwrap();
    let mut r = Reader::new(&bytes, "file");
    r.take(4).unwrap();
    assert!(matches!(
        r.split_tail(2),
        Err(CodecError::Truncated {
            offset: 4,
            needed: 2,
            available: 1,
            ..
        })
    ));
}

#[test]
fn bits_round_trip_for_every_length_mod_8() {
    for n in 0..=40usize {
        let bits: Vec<bool> = (0..n).map(|j| (j * 7 + n) % 3 == 0).collect();
        let packed = pack_bits(&bits);
        assert_eq!(packed.len(), n.div_ceil(8));
        // LSB-first reference.
        for (j, &b) in bits.iter().enumerate() {
            assert_eq!((packed[j / 8] >> (j % 8)) & 1 == 1, b);
            assert_eq!(bit(&packed, j), b);
        }
        if !n.is_multiple_of(8) {
            assert_eq!(packed[n / 8] >> (n % 8), 0, "padding bits zero");
        }
        assert_eq!(unpack_bits(&packed, n), bits);
        let mut w = Writer::new();
        w.u8(9);
        w.bits(&bits);
        let bytes = w.into_vec();
        let mut r = Reader::new(&bytes, "bits");
        r.u8().unwrap();
        assert_eq!(r.bits(n).unwrap(), &packed[..]);
        r.finish().unwrap();
    }
    assert_eq!(pack_bits(&[true, false, true]), [0b101]);
    assert_eq!(pack_bits(&[true; 9]), [0xff, 0x01]);
}

#[test]
fn bits_with_set_padding_are_refused() {
    // 3 bits used: 0b1000 sets a padding bit.
    let mut r = Reader::new(&[0b0000_1101], "bits");
    assert_eq!(
        r.bits(3),
        Err(CodecError::Padding {
            what: "bits",
            last: 0b1101,
            used: 3
        })
    );
    assert_eq!(r.position(), 0);
    assert_eq!(r.bits(4).unwrap(), &[0b1101]);
    // Whole bytes have no padding; a short string is truncation.
    assert!(Reader::new(&[0xff], "b").bits(8).is_ok());
    assert!(matches!(
        Reader::new(&[0xff], "b").bits(9),
        Err(CodecError::Truncated { .. })
    ));
    let mut x = [0xff, 0xff];
    clear_padding(&mut x, 11);
    assert_eq!(x, [0xff, 0x07]);
    clear_padding(&mut x, 16);
    assert_eq!(x, [0xff, 0x07]);
}

#[test]
fn writer_reuses_a_buffer() {
    let mut old = Vec::with_capacity(100);
    old.extend_from_slice(&[1, 2, 3]);
    let cap = old.capacity();
    let mut w = Writer::reuse(old);
    assert!(w.is_empty());
    w.u32(7);
    assert_eq!(w.as_slice(), &[7, 0, 0, 0]);
    assert_eq!(w.len(), 4);
    let v = w.into_vec();
    assert_eq!(v.capacity(), cap);
}
