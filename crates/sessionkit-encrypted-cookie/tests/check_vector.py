"""Checks the pinned vectors of the encrypted cookie format against an independent
implementation: HChaCha20 written out here, plus the IETF ChaCha20-Poly1305 of the
`cryptography` package (XChaCha20-Poly1305 = ChaCha20-Poly1305 under the HChaCha20 subkey,
with the nonce's last 8 bytes after 4 zero bytes).

    python3 crates/sessionkit-encrypted-cookie/tests/check_vector.py

prints the value pinned in `src/format.rs` (`PINNED`) and the key id pinned in
`src/key.rs` (`key_ids_are_stable`).
"""
import struct, hashlib, base64
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
def rotl(v,c): return ((v<<c)&0xffffffff)|(v>>(32-c))
def qr(s,a,b,c,d):
    s[a]=(s[a]+s[b])&0xffffffff; s[d]^=s[a]; s[d]=rotl(s[d],16)
    s[c]=(s[c]+s[d])&0xffffffff; s[b]^=s[c]; s[b]=rotl(s[b],12)
    s[a]=(s[a]+s[b])&0xffffffff; s[d]^=s[a]; s[d]=rotl(s[d],8)
    s[c]=(s[c]+s[d])&0xffffffff; s[b]^=s[c]; s[b]=rotl(s[b],7)
def hchacha(key,n16):
    s=[0x61707865,0x3320646e,0x79622d32,0x6b206574]+list(struct.unpack('<8I',key))+list(struct.unpack('<4I',n16))
    for _ in range(10):
        qr(s,0,4,8,12);qr(s,1,5,9,13);qr(s,2,6,10,14);qr(s,3,7,11,15)
        qr(s,0,5,10,15);qr(s,1,6,11,12);qr(s,2,7,8,13);qr(s,3,4,9,14)
    return struct.pack('<8I',*(s[0:4]+s[12:16]))
key=bytes([7])*32; nonce=bytes([9])*24
kid=hashlib.sha256(b"sessionkit encrypted-cookie key id\0"+key).digest()[:4]
hdr=bytes([1])+kid
sub=hchacha(key,nonce[:16])
ct=ChaCha20Poly1305(sub).encrypt(b"\0\0\0\0"+nonce[16:], struct.pack('>q',1767225600)+b'{"count":1}', hdr)
print(base64.urlsafe_b64encode(hdr+nonce+ct).rstrip(b'=').decode())
print(hashlib.sha256(b"sessionkit encrypted-cookie key id\0"+bytes(32)).digest()[:4].hex())
