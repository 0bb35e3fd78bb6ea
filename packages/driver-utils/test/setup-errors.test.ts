import { AbortedError, DriverSetupError, NotFoundError, StorageUnavailableError } from '@stowage/driver-contract';
import { describe, expect, it } from 'vitest';
import { errorDetails, missingContainerError, setupStepError } from '../src/index.js';

describe('setupStepError', () => {
  it('names the prefix, the step and the detail once, keeping the cause and details', () => {
    const cause = new StorageUnavailableError('swift backend b1: HEAD of container c failed: cannot reach Swift (ECONNREFUSED)');
    const error = setupStepError('swift backend b1: ', 'checking container c failed', cause, { backend: 'b1', container: 'c' });
    expect(DriverSetupError.isInstance(error)).toBe(true);
    expect(error.message).toBe('swift backend b1: setup failed: checking container c failed: HEAD of container c failed: cannot reach Swift (ECONNREFUSED)');
    expect(error).toMatchObject({ cause, backend: 'b1', container: 'c' });
  });

  it('keeps a cancellation an AbortedError', () => {
    const aborted = new AbortedError('setup was cancelled');
    expect(setupStepError('p: ', 'step', aborted)).toBe(aborted);
  });
});

describe('missingContainerError', () => {
  const missing = {
    prefix: 'swift backend b1: ',
    backend: 'b1',
    container: 'volumebackups',
    option: 'create_container',
    howToCreate: 'e.g. `swift post volumebackups`',
  };

  it('says what is missing, which option forbids creating it and what to do', () => {
    const error = missingContainerError('setup', missing);
    expect(error.message).toBe(
      'swift backend b1: container volumebackups does not exist and create_container is false; create it (e.g. `swift post volumebackups`) or set create_container: true',
    );
    expect(error).toMatchObject({ backend: 'b1', container: 'volumebackups' });
  });

  it('is the error each call reports: setup, availability, ensure', () => {
    expect(DriverSetupError.isInstance(missingContainerError('setup', missing))).toBe(true);
    expect(StorageUnavailableError.isInstance(missingContainerError('availability', missing))).toBe(true);
    expect(NotFoundError.isInstance(missingContainerError('ensure', missing))).toBe(true);
  });

  it('speaks of buckets and names the endpoint when told', () => {
    const error = missingContainerError('availability', { prefix: 's3 backend s: ', backend: 's', container: 'bk', noun: 'bucket', option: 'create_bucket', at: 'http://127.0.0.1:9000' });
    expect(error.message).toBe('s3 backend s: bucket bk does not exist at http://127.0.0.1:9000 and create_bucket is false; create it or set create_bucket: true');
  });
});

describe('errorDetails', () => {
  it('copies only the known fields, with the cause', () => {
    expect(errorDetails({ backend: 'b' })).toEqual({ backend: 'b' });
    const cause = new Error('x');
    expect(errorDetails({ backend: 'b', container: 'c', object: 'o' }, cause)).toEqual({ backend: 'b', container: 'c', object: 'o', cause });
    expect('object' in errorDetails({ backend: 'b', container: 'c', object: undefined })).toBe(false);
  });
});
