import t from 'tap';

import { NumberingPlan } from '../../src/directory/index.js';

// A UK site: 00 international, 0 trunk, 9 for an outside line, DID +44161496xxxx = extension xxxx.
const uk = new NumberingPlan({
  countryCode: '44',
  internationalPrefix: '00',
  trunkPrefix: '0',
  outsideLinePrefix: '9',
  extensionLength: 4,
  mainNumber: '+441614960000',
  didRanges: [{ first: '+441614960000', last: '+441614960999' }, { first: '+441614962000', last: '+441614962999' }],
  servedPrefixes: ['+4420799'],
});

const cases: [string, object | undefined][] = [
  ['+441614960123', { kind: 'e164', e164: '+441614960123', extension: '0123' }],
  ['tel:+44-161-496-0123', { kind: 'e164', e164: '+441614960123', extension: '0123' }],
  ['0123', { kind: 'extension', extension: '0123', e164: '+441614960123' }],
  ['2500', { kind: 'extension', extension: '2500', e164: '+441614962500' }],
  ['1500', { kind: 'extension', extension: '1500' }],
  ['01614961500', { kind: 'e164', e164: '+441614961500' }],
  ['0 161 496 0123', { kind: 'e164', e164: '+441614960123', extension: '0123' }],
  ['004915112345678', { kind: 'e164', e164: '+4915112345678' }],
  ['9004915112345678', { kind: 'e164', e164: '+4915112345678' }],
  ['902079460000', { kind: 'e164', e164: '+442079460000' }],
  ['9123', { kind: 'extension', extension: '9123' }],
  ['+0441', undefined],
  ['+1234567890123456', undefined],
  ['12ab', undefined],
  ['', undefined],
  ['*21', undefined],
];
for (const [input, want] of cases) t.same(uk.tryNormalise(input), want, `'${input}'`);

t.throws(() => uk.normalise('abc', 'callee'), { code: 'DIR_ERR_NUMBER', field: 'callee' });
t.equal(uk.extensionOf('+441614961000'), undefined);
t.equal(uk.e164OfExtension('0999'), '+441614960999');
t.equal(uk.e164OfExtension('1999'), undefined);
t.equal(uk.e164OfExtension('12'), undefined);
t.ok(uk.serves(uk.normalise('1500')));
t.ok(uk.serves(uk.normalise('+442079912345')), 'served prefix');
t.notOk(uk.serves(uk.normalise('+442079412345')));
t.ok(uk.isMainNumber(uk.normalise('01614960000')));
t.notOk(uk.isMainNumber(uk.normalise('0001')));

// NANP: 011 international, 1 trunk, 10-digit national numbers.
const nanp = new NumberingPlan({ countryCode: '1', internationalPrefix: '011', trunkPrefix: '1', nationalNumberLength: 10, extensionLength: 4, didRanges: [{ first: '+15551230000', last: '+15551239999' }] });
t.same(nanp.tryNormalise('5551231234'), { kind: 'e164', e164: '+15551231234', extension: '1234' });
t.same(nanp.tryNormalise('15551231234'), { kind: 'e164', e164: '+15551231234', extension: '1234' });
t.same(nanp.tryNormalise('011442079460000'), { kind: 'e164', e164: '+442079460000' });
t.same(nanp.tryNormalise('(555) 123-1234'), { kind: 'e164', e164: '+15551231234', extension: '1234' });
t.equal(nanp.tryNormalise('555123'), undefined);

const badConfigs: [object, string][] = [
  [{ countryCode: 'x' }, 'countryCode'],
  [{ internationalPrefix: '' }, 'internationalPrefix'],
  [{ trunkPrefix: '0a' }, 'trunkPrefix'],
  [{ extensionLength: 1 }, 'extensionLength'],
  [{ nationalNumberLength: 2 }, 'nationalNumberLength'],
  [{ mainNumber: '0161' }, 'mainNumber'],
  [{ didRanges: [{ first: '+4416149600', last: '+441614960999' }] }, 'didRanges[0]'],
  [{ didRanges: [{ first: '+441614960000', last: '+441614970999' }] }, 'didRanges[0]'],
  [{ didRanges: [{ first: '+441614960999', last: '+441614960000' }] }, 'didRanges[0]'],
  [{ servedPrefixes: ['44'] }, 'servedPrefixes[0]'],
];
for (const [change, field] of badConfigs) {
  t.throws(() => new NumberingPlan({ ...uk.config, ...change } as never), { code: 'DIR_ERR_CONFIG', field }, field);
}
