/**
 * OAuth 1.0a signing against vectors computed independently of this code: the RFC 5849 §3.4.1 worked example
 * (base string as printed in the RFC), the OAuth Core 1.0 Appendix A photos example (HMAC-SHA1 signature
 * `tR3+Ty81lMeYAr/Fid0kMTYa/WM=`), and an HMAC-SHA256 OneRoster request whose base string was written by hand and
 * signed with `openssl dgst -sha256 -hmac` (and Python's hmac module, same result).
 */
import {
  authorizationHeader,
  baseStringUri,
  hmacSignature,
  normalizedParameters,
  percentEncode,
  signRequest,
  signatureBaseString,
} from './oauth1';

describe('percentEncode (RFC 5849 §3.6)', () => {
  test('unreserved characters stay, everything else is %XX with upper-case hex, UTF-8', () => {
    expect(percentEncode('AZaz09-._~')).toBe('AZaz09-._~');
    expect(percentEncode(" !\"#$%&'()*+,/:;<=>?@[\\]^`{|}")).toBe('%20%21%22%23%24%25%26%27%28%29%2A%2B%2C%2F%3A%3B%3C%3D%3E%3F%40%5B%5C%5D%5E%60%7B%7C%7D');
    expect(percentEncode('é☃')).toBe('%C3%A9%E2%98%83');
  });
});

describe('RFC 5849 §3.4.1 worked example', () => {
  // POST /request?b5=%3D%253D&a3=a&c%40=&a2=r%20b, body c2&a3=2+q (form-encoded), HMAC-SHA1 (§3.4.1.1).
  const url = new URL('http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b');
  const oauth = {
    oauth_consumer_key: '9djdj82h48djs9d2',
    oauth_token: 'kkk9d7dh3k39sjv7',
    oauth_signature_method: 'HMAC-SHA1',
    oauth_timestamp: '137131201',
    oauth_nonce: '7d8f3e4a',
    oauth_signature: 'djosJKDKJSD8743243%2Fjdk33klY%3D',
    realm: 'Example',
  };
  const body: Array<[string, string]> = [['c2', ''], ['a3', '2 q']];

  test('normalized parameters (§3.4.1.3.2)', () => {
    expect(normalizedParameters(url, oauth, body)).toBe(
      'a2=r%20b&a3=2%20q&a3=a&b5=%3D%253D&c%40=&c2=&oauth_consumer_key=9djdj82h48djs9d2&oauth_nonce=7d8f3e4a&oauth_signature_method=HMAC-SHA1&oauth_timestamp=137131201&oauth_token=kkk9d7dh3k39sjv7',
    );
  });

  test('signature base string', () => {
    expect(signatureBaseString('post', url, oauth, body)).toBe(
      'POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7',
    );
  });

  test('base string URI (§3.4.1.2): lower-case scheme and host, default ports dropped, other ports kept', () => {
    expect(baseStringUri(new URL('HTTP://EXAMPLE.COM:80/r%20v/X?id=123'))).toBe('http://example.com/r%20v/X');
    expect(baseStringUri(new URL('https://www.example.net:8080/?q=1'))).toBe('https://www.example.net:8080/');
    expect(baseStringUri(new URL('https://sis.example:443/ims'))).toBe('https://sis.example/ims');
  });
});

describe('OAuth Core 1.0 Appendix A (photos example)', () => {
  test('HMAC-SHA1 signature tR3+Ty81lMeYAr/Fid0kMTYa/WM=', () => {
    const params = signRequest({
      method: 'GET',
      url: new URL('http://photos.example.net/photos?file=vacation.jpg&size=original'),
      consumerKey: 'dpf43f3p2l4k3l03',
      consumerSecret: 'kd94hf93k423kf44',
      token: 'nnch734d00sl2jdk',
      tokenSecret: 'pfkkdhi9sl3r4s00',
      signatureMethod: 'HMAC-SHA1',
      nonce: 'kllo9940pd9333jh',
      timestamp: 1191242096,
    });
    expect(params.oauth_signature).toBe('tR3+Ty81lMeYAr/Fid0kMTYa/WM=');
  });
});

describe('HMAC-SHA256, a OneRoster 1.1 request (two-legged: no token)', () => {
  const url = new URL("https://sis.example/ims/oneroster/v1p1/users?limit=2&offset=0&filter=dateLastModified%3E%272025-09-01T00%3A00%3A00.000Z%27");
  const expectedBase =
    'GET&https%3A%2F%2Fsis.example%2Fims%2Foneroster%2Fv1p1%2Fusers&filter%3DdateLastModified%253E%25272025-09-01T00%253A00%253A00.000Z%2527%26limit%3D2%26oauth_consumer_key%3Dfictional-key%26oauth_nonce%3Dabc123%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1767225600%26oauth_version%3D1.0%26offset%3D0';

  test('base string and signature (openssl dgst -sha256 -hmac "fictional-secret&")', () => {
    const params = signRequest({ method: 'GET', url, consumerKey: 'fictional-key', consumerSecret: 'fictional-secret', nonce: 'abc123', timestamp: 1767225600 });
    const { oauth_signature: signature, ...rest } = params;
    expect(signatureBaseString('GET', url, rest)).toBe(expectedBase);
    expect(signature).toBe('7ewFtpjIzcSdA89vFsFrMuNKl1uFPKLSE0n4EXH+Mn4=');
    expect(hmacSignature('HMAC-SHA256', expectedBase, 'fictional-secret')).toBe(signature);
  });

  test('the header lists every protocol parameter, percent-encoded and quoted', () => {
    const params = signRequest({ method: 'GET', url, consumerKey: 'fictional-key', consumerSecret: 'fictional-secret', nonce: 'abc123', timestamp: 1767225600 });
    expect(authorizationHeader(params)).toBe(
      'OAuth oauth_consumer_key="fictional-key", oauth_nonce="abc123", oauth_signature_method="HMAC-SHA256", oauth_timestamp="1767225600", oauth_version="1.0", oauth_signature="7ewFtpjIzcSdA89vFsFrMuNKl1uFPKLSE0n4EXH%2BMn4%3D"',
    );
  });

  test('a fresh nonce and the current time by default', () => {
    const a = signRequest({ method: 'GET', url, consumerKey: 'k', consumerSecret: 's' });
    const b = signRequest({ method: 'GET', url, consumerKey: 'k', consumerSecret: 's' });
    expect(a.oauth_nonce).toMatch(/^[0-9a-f]{32}$/);
    expect(a.oauth_nonce).not.toBe(b.oauth_nonce);
    expect(Math.abs(Number(a.oauth_timestamp) - Date.now() / 1000)).toBeLessThan(5);
  });
});
