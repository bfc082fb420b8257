import { request } from 'node:http';

/** HEALTHCHECK for the image (no curl there): exit 0 when /v2/health/ready answers 200. */
const req = request(
  { host: '127.0.0.1', port: Number(process.env.PORT ?? 8080), path: '/v2/health/ready', timeout: 2000 },
  (res) => {
    res.resume();
    process.exit(res.statusCode === 200 ? 0 : 1);
  },
);
req.on('timeout', () => req.destroy(new Error('timeout')));
req.on('error', () => process.exit(1));
req.end();
