// The CLI's logger: secrets never reach a log line, and nothing goes to stdout.
import { createLogger, redact } from '../src/log';

describe('log', () => {
  it('masks values of secret-looking keys at any depth', () => {
    const out = redact().transform({
      level: 'info',
      message: 'calling the model',
      apiKey: 'sk-live-123',
      request: { headers: { Authorization_Token: 't' }, body: [{ password: 'p', user: 'u' }] },
      model: 'small',
      usage: { promptTokens: 120, completionTokens: 30 },
      apiKeyEnv: 'OPENAI_API_KEY',
      accessToken: 'a',
    }) as Record<string, unknown>;
    expect(out).toEqual({
      level: 'info',
      message: 'calling the model',
      apiKey: '[redacted]',
      request: { headers: { Authorization_Token: '[redacted]' }, body: [{ password: '[redacted]', user: 'u' }] },
      model: 'small',
      // Counters and the name of a key's variable are not secrets.
      usage: { promptTokens: 120, completionTokens: 30 },
      apiKeyEnv: 'OPENAI_API_KEY',
      accessToken: '[redacted]',
    });
  });

  it('takes its level from COLT_LOG_LEVEL, warn by default', () => {
    expect(createLogger({}, {}).level).toBe('warn');
    expect(createLogger({}, { COLT_LOG_LEVEL: 'DEBUG' }).level).toBe('debug');
    expect(createLogger({}, { COLT_LOG_LEVEL: 'loud' }).level).toBe('warn');
  });

  it('writes to stderr only', () => {
    const stdout = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const logger = createLogger({ level: 'debug' });
      logger.warn('to stderr', { secret: 's' });
      expect(stdout).not.toHaveBeenCalled();
      expect(stderr).toHaveBeenCalledWith(expect.stringContaining('warn: to stderr {"secret":"[redacted]"}'));
    } finally {
      stdout.mockRestore();
      stderr.mockRestore();
    }
  });
});
