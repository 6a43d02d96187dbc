#!/usr/bin/env node
/**
 * gridbot e2e gateway: a mock WeChat account behind the wechaty
 * puppet-service gRPC protocol, plus a small HTTP control API.
 *
 *   node server.js [--fixture fixtures/xiyuan.json] [--port N]
 *                  [--control-port M] [--token insecure_...]
 *                  [--exit-on-stdin-close]
 *
 * stdout carries exactly one line, printed when everything is listening:
 *   {"puppet_port": N, "control_port": M, "token": "insecure_..."}
 * Every log line goes to stderr.  See README.md for the control API.
 */
import crypto from 'node:crypto'
import fs from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

// ---------------------------------------------------------------------------
// stdout is reserved for the single "ready" JSON line: brolog (the wechaty
// logger) prints info/verbose lines with console.info/console.log, so route
// every console method to stderr *before* the wechaty modules are loaded.
// ---------------------------------------------------------------------------
const writeStdout = process.stdout.write.bind(process.stdout)
for (const name of ['log', 'info', 'debug', 'warn', 'error', 'trace']) {
  console[name] = (...args) => process.stderr.write(args.map(String).join(' ') + '\n')
}

const { log, types: PUPPET_TYPES } = await import('wechaty-puppet')
const { PuppetMock, mock } = await import('wechaty-puppet-mock')
const { PuppetServer } = await import('wechaty-puppet-service')
const { FileBox } = await import('file-box')

const HERE = path.dirname(fileURLToPath(import.meta.url))

// ---------------------------------------------------------------------------
// options
// ---------------------------------------------------------------------------
function parseArgs (argv) {
  const opts = {
    fixture: process.env.GATEWAY_FIXTURE || path.join(HERE, 'fixtures', 'xiyuan.json'),
    port: Number(process.env.GATEWAY_PUPPET_PORT || 0),
    controlPort: Number(process.env.GATEWAY_CONTROL_PORT || 0),
    token: process.env.GATEWAY_TOKEN || process.env.WECHATY_PUPPET_SERVICE_TOKEN || 'insecure_gridbot_e2e',
    exitOnStdinClose: false,
    logLevel: process.env.WECHATY_LOG || 'warn',
  }
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i]
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`missing value for ${a}`)
      return argv[++i]
    }
    switch (a) {
      case '--fixture': opts.fixture = next(); break
      case '--port': opts.port = Number(next()); break
      case '--control-port': opts.controlPort = Number(next()); break
      case '--token': opts.token = next(); break
      case '--log-level': opts.logLevel = next(); break
      case '--exit-on-stdin-close': opts.exitOnStdinClose = true; break
      case '-h': case '--help':
        process.stderr.write('usage: node server.js [--fixture F] [--port N] [--control-port M] '
          + '[--token insecure_...] [--log-level warn|info|verbose|silly] [--exit-on-stdin-close]\n')
        process.exit(0)
        break
      default:
        throw new Error(`unknown argument: ${a}`)
    }
  }
  if (!opts.token.startsWith('insecure_')) {
    throw new Error(`token must start with "insecure_" (TLS is disabled): ${opts.token}`)
  }
  return opts
}

const OPTS = parseArgs(process.argv)
log.level(OPTS.logLevel)

function glog (...args) {
  process.stderr.write(`[gateway ${new Date().toISOString()}] ${args.join(' ')}\n`)
}

process.on('uncaughtException', e => glog('uncaughtException:', e && e.stack || e))
process.on('unhandledRejection', e => glog('unhandledRejection:', e && e.stack || e))

// ---------------------------------------------------------------------------
// fixture -> mock world
// ---------------------------------------------------------------------------
const GENDER = { male: PUPPET_TYPES.ContactGender.Male, female: PUPPET_TYPES.ContactGender.Female }

function loadFixture (file) {
  const world = JSON.parse(fs.readFileSync(file, 'utf8'))
  if (!world.bot || !world.bot.id) throw new Error('fixture: bot.id is required')
  for (const r of world.rooms || []) {
    if (!String(r.id).includes('@')) throw new Error(`fixture: room id must contain "@": ${r.id}`)
  }
  return world
}

function contactPayloadOf (c, isBot = false) {
  return {
    id: c.id,
    name: c.name,
    alias: c.alias || undefined,
    avatar: c.avatar || '',
    gender: GENDER[c.gender] ?? PUPPET_TYPES.ContactGender.Unknown,
    type: PUPPET_TYPES.Contact.Individual,
    friend: isBot ? false : c.friend !== false,
    phone: c.phone || [],
    city: c.city || '',
    province: c.province || '',
    signature: c.signature || '',
    address: c.address || '',
    star: false,
    weixin: c.weixin || undefined,
  }
}

const WORLD = loadFixture(OPTS.fixture)
const BOT_ID = WORLD.bot.id
/** roomId -> { contactId -> roomAlias } */
const ROOM_ALIAS = new Map()

const mocker = new mock.Mocker()
let worldBuilt = false

function buildWorld () {
  mocker.createContact(contactPayloadOf(WORLD.bot, true))
  for (const c of WORLD.contacts || []) mocker.createContact(contactPayloadOf(c))
  for (const r of WORLD.rooms || []) {
    const members = r.members || []
    for (const m of members) {
      if (!mocker.cacheContactPayload.has(m)) throw new Error(`fixture: room ${r.id} member ${m} is not a contact`)
    }
    mocker.createRoom({
      id: r.id,
      topic: r.topic,
      avatar: r.avatar || '',
      ownerId: r.owner || undefined,
      adminIdList: r.admins || [],
      memberIdList: [...members],
    })
    ROOM_ALIAS.set(r.id, { ...(r.aliases || {}) })
  }
  worldBuilt = true
}

/**
 * The mocker "environment": runs on every puppet start (the gRPC client's
 * Start call).  It builds the world once, then logs the bot account in —
 * the puppet logs out on every Stop, so each Start must log in again.
 */
mocker.use(function gridbotEnvironment (m) {
  try {
    if (puppet.isLoggedIn) {
      glog('environment: puppet still logged in, skip login')
    } else {
      m.login(m.ContactMock.load(BOT_ID))
      glog(`environment: logged in as ${BOT_ID}`)
    }
    // a puppet-service client only sees `ready` once it is emitted
    setTimeout(() => {
      if (puppet.isLoggedIn) puppet.emit('ready', { data: 'ready' })
    }, 200)
  } catch (e) {
    glog('environment error:', e.stack || e)
  }
  return () => {}
})

// ---------------------------------------------------------------------------
// message bookkeeping
// ---------------------------------------------------------------------------
/** every message seen by the gateway, in order (residents' and the bot's) */
const allMessages = []
/** messages the BOT sent, in order; cleared by DELETE /sent */
let sentMessages = []
/** messageId -> FileBox for image / file messages */
const fileBoxes = new Map()

const TYPE_NAME = {
  [PUPPET_TYPES.Message.Text]: 'text',
  [PUPPET_TYPES.Message.Image]: 'image',
  [PUPPET_TYPES.Message.Attachment]: 'file',
  [PUPPET_TYPES.Message.Video]: 'video',
  [PUPPET_TYPES.Message.Audio]: 'audio',
  [PUPPET_TYPES.Message.Contact]: 'contact',
  [PUPPET_TYPES.Message.Url]: 'url',
  [PUPPET_TYPES.Message.MiniProgram]: 'mini_program',
  [PUPPET_TYPES.Message.Recalled]: 'recalled',
}

function newMessageId () {
  return 'msg-' + crypto.randomBytes(8).toString('hex')
}

/**
 * Create a message in the mock world and emit the `message` event (which the
 * service forwards to the attached gRPC event stream, if any).
 */
function emitMessage ({ talkerId, roomId = null, listenerId = null, text = '', type = PUPPET_TYPES.Message.Text, mentionIdList = [], fileBox = null }) {
  const payload = {
    id: newMessageId(),
    talkerId,
    timestamp: Date.now(),
    type,
    text,
  }
  if (roomId) {
    payload.roomId = roomId
    payload.mentionIdList = [...mentionIdList]
  } else {
    payload.listenerId = listenerId
  }
  if (fileBox) {
    fileBoxes.set(payload.id, fileBox)
    try { mocker.cacheFileBoxPayload.set(payload.id, fileBox.toJSON()) } catch { /* stream / file boxes */ }
  }
  mocker.MessageMock.create(payload)
  const record = {
    id: payload.id,
    from: talkerId,
    room: roomId,
    to: roomId ? null : listenerId,
    text,
    mentions: [...mentionIdList],
    type: TYPE_NAME[type] || String(type),
    time: payload.timestamp,
  }
  if (fileBox) {
    record.file = { name: fileBox.name, size: fileBox.size }
  }
  allMessages.push(record)
  const delivered = streamAttached()
  if (!delivered) glog(`message ${payload.id} emitted with NO event stream attached: it is dropped by the service`)
  puppet.emit('message', { messageId: payload.id })
  return { record, delivered }
}

function recordSent (record) {
  const { from, ...rest } = record
  void from
  sentMessages.push(rest)
}

// ---------------------------------------------------------------------------
// the puppet: PuppetMock with the parts the mock leaves fake filled in
// ---------------------------------------------------------------------------
class GridbotPuppet extends PuppetMock {
  async onStop () {
    await super.onStop()
    // the login mixin emits `logout` on stop but keeps the user id; clear it
    // so the next Start can log in again.
    this.__currentUserId = undefined
  }

  ding (data) {
    setTimeout(() => this.emit('dong', { data: data || '' }), 50)
  }

  async contactAlias (contactId, alias) {
    if (typeof alias === 'undefined') {
      return mocker.contactPayload(contactId).alias || ''
    }
    mocker.contactPayload(contactId).alias = alias || undefined
    await this.dirtyPayload(PUPPET_TYPES.Dirty.Contact, contactId)
  }

  async contactAvatar (contactId, file) {
    if (file) return
    return FileBox.fromQRCode(`avatar:${contactId}`)
  }

  async roomAvatar (roomId) {
    return FileBox.fromQRCode(`avatar:${roomId}`)
  }

  async roomTopic (roomId, topic) {
    if (typeof topic === 'undefined') {
      return mocker.roomPayload(roomId).topic
    }
    // the bot renames a group
    mocker.RoomMock.load(roomId).topic(topic).by(mocker.ContactMock.load(this.currentUserId))
    await this.dirtyPayload(PUPPET_TYPES.Dirty.Room, roomId)
  }

  async roomMemberRawPayload (roomId, contactId) {
    const c = await this.contactPayload(contactId)
    return {
      avatar: c.avatar,
      id: contactId,
      name: c.name,
      roomAlias: (ROOM_ALIAS.get(roomId) || {})[contactId] || '',
    }
  }

  async messageImage (messageId, imageType) {
    void imageType
    const fb = fileBoxes.get(messageId)
    if (!fb) throw new Error(`no image for message ${messageId}`)
    return fb
  }

  async messageFile (messageId) {
    const fb = fileBoxes.get(messageId)
    if (!fb) throw new Error(`no file for message ${messageId}`)
    return fb
  }

  async messageRecall (messageId) {
    const sent = sentMessages.find(s => s.id === messageId)
    if (!sent) return false
    sent.recalled = true
    const all = allMessages.find(s => s.id === messageId)
    if (all) all.recalled = true
    return true
  }

  _botSend (conversationId, fields) {
    if (!this.isLoggedIn) throw new Error('not logged in')
    const isRoom = conversationId.includes('@')
    if (isRoom) mocker.roomPayload(conversationId) // throws for unknown ids
    else mocker.contactPayload(conversationId)
    const { record } = emitMessage({
      talkerId: this.currentUserId,
      roomId: isRoom ? conversationId : null,
      listenerId: isRoom ? null : conversationId,
      ...fields,
    })
    recordSent(record)
    return record.id
  }

  async messageSendText (conversationId, text, mentionIdList) {
    return this._botSend(conversationId, { text, mentionIdList: mentionIdList || [] })
  }

  async messageSendFile (conversationId, file) {
    // make the box re-readable (a Uuid box from the client can only stream once)
    let box = file
    try {
      const buf = await file.toBuffer()
      box = FileBox.fromBase64(buf.toString('base64'), file.name)
    } catch (e) {
      glog('messageSendFile: could not read the box:', e.message)
    }
    const isImage = /\.(jpe?g|png|gif|webp)$/i.test(file.name || '')
    return this._botSend(conversationId, {
      type: isImage ? PUPPET_TYPES.Message.Image : PUPPET_TYPES.Message.Attachment,
      text: file.name || '',
      fileBox: box,
    })
  }

  async messageSendContact (conversationId, contactId) {
    return this._botSend(conversationId, { type: PUPPET_TYPES.Message.Contact, text: contactId })
  }

  async messageSendUrl (conversationId, urlLinkPayload) {
    return this._botSend(conversationId, { type: PUPPET_TYPES.Message.Url, text: JSON.stringify(urlLinkPayload) })
  }

  async messageSendMiniProgram (conversationId, miniProgramPayload) {
    return this._botSend(conversationId, { type: PUPPET_TYPES.Message.MiniProgram, text: JSON.stringify(miniProgramPayload) })
  }

  async messageForward (conversationId, messageId) {
    const src = mocker.messagePayload(messageId)
    return this._botSend(conversationId, {
      type: src.type,
      text: src.text || '',
      fileBox: fileBoxes.get(messageId) || null,
    })
  }
}

const puppet = new GridbotPuppet({ mocker })
// errors emitted by the puppet must never crash the process
puppet.on('error', e => glog('puppet error event:', JSON.stringify(e)))

/**
 * Calls the gRPC service made to the puppet, for tests that count round trips:
 * method -> list of argument lists.  GET /calls, DELETE /calls.
 */
let puppetCalls = {}
const COUNTED = ['messagePayload', 'roomMemberPayload', 'roomMemberList', 'roomPayload', 'contactPayload',
  'messageSendText']
for (const name of COUNTED) {
  const original = puppet[name].bind(puppet)
  puppet[name] = (...args) => {
    (puppetCalls[name] ||= []).push(args.filter(a => typeof a === 'string'))
    return original(...args)
  }
}
const BASE_MESSAGE_LISTENERS = puppet.listenerCount('message')

function streamAttached () {
  // the service's EventStreamManager adds one `message` listener per attached stream
  return puppet.listenerCount('message') > BASE_MESSAGE_LISTENERS
}

// ---------------------------------------------------------------------------
// gRPC puppet server (stoppable / restartable on the same port)
// ---------------------------------------------------------------------------
async function freePort () {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.unref()
    s.on('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

const PUPPET_PORT = OPTS.port || await freePort()
let puppetServer = null
let grpcState = 'stopped'

async function startGrpc () {
  if (puppetServer) return false
  const server = new PuppetServer({
    endpoint: `127.0.0.1:${PUPPET_PORT}`,
    puppet,
    token: OPTS.token,
    tls: { disable: true },
  })
  await server.start()
  puppetServer = server
  grpcState = 'running'
  glog(`gRPC puppet server listening on 127.0.0.1:${PUPPET_PORT}`)
  return true
}

async function stopGrpc ({ stopPuppet = false } = {}) {
  let wasRunning = false
  if (puppetServer) {
    const server = puppetServer
    puppetServer = null
    grpcState = 'stopped'
    await server.stop()
    wasRunning = true
    glog('gRPC puppet server stopped')
  }
  if (stopPuppet && puppet.state.active()) {
    await puppet.stop()
    glog('puppet stopped (logged out)')
  }
  return wasRunning
}

// ---------------------------------------------------------------------------
// HTTP control API
// ---------------------------------------------------------------------------
class HttpError extends Error {
  constructor (status, message) { super(message); this.status = status }
}

function need (cond, message, status = 400) {
  if (!cond) throw new HttpError(status, message)
}

function contactExists (id) { return mocker.cacheContactPayload.has(id) }
function roomExists (id) { return mocker.cacheRoomPayload.has(id) }

function requireWorld () {
  need(worldBuilt, 'the mock world is not built yet: no client has started the puppet', 409)
}

function requireLoggedIn () {
  need(puppet.isLoggedIn, 'the bot account is not logged in (no client has started the puppet?)', 409)
}

function checkSpeaker (from, room) {
  need(typeof from === 'string' && contactExists(from), `unknown contact "from": ${from}`)
  need(from !== BOT_ID, '"from" must not be the bot: the bot speaks through gRPC')
  if (room) {
    need(roomExists(room), `unknown room: ${room}`)
    need(mocker.roomPayload(room).memberIdList.includes(from), `${from} is not a member of ${room}`)
  }
}

/** a real PNG, padded with trailing bytes (ignored by decoders) to `size` */
const PNG_1PX = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64')
function makeImage (size) {
  const n = Math.max(size, PNG_1PX.length)
  const pad = crypto.randomBytes(n - PNG_1PX.length)
  return Buffer.concat([PNG_1PX, pad])
}

const routes = {
  'GET /health': async () => ({
    ok: true,
    grpc: grpcState,
    puppet_port: PUPPET_PORT,
    puppet_started: puppet.state.active(),
    logged_in: puppet.isLoggedIn,
    stream_attached: streamAttached(),
    bot_id: BOT_ID,
    world_built: worldBuilt,
  }),

  'GET /world': async () => {
    const fixtureContact = new Map((WORLD.contacts || []).map(c => [c.id, c]))
    const fixtureRoom = new Map((WORLD.rooms || []).map(r => [r.id, r]))
    return {
      bot: BOT_ID,
      contacts: [...mocker.cacheContactPayload.values()].map(c => ({
        id: c.id, name: c.name, alias: c.alias || '', role: fixtureContact.get(c.id)?.role || (c.id === BOT_ID ? 'bot' : null),
      })),
      rooms: [...mocker.cacheRoomPayload.values()].map(r => ({
        id: r.id, topic: r.topic, kind: fixtureRoom.get(r.id)?.kind || null, owner: r.ownerId || null,
        members: [...r.memberIdList], aliases: { ...(ROOM_ALIAS.get(r.id) || {}) },
      })),
    }
  },

  'POST /say': async body => {
    requireWorld(); requireLoggedIn()
    const { from, room = null, text, mentions = [] } = body
    checkSpeaker(from, room)
    need(typeof text === 'string' && text.length > 0, '"text" must be a non-empty string')
    need(Array.isArray(mentions) && mentions.every(contactExists), '"mentions" must be a list of known contact ids')
    need(room || mentions.length === 0, 'mentions only make sense in a room')
    let finalText = text
    if (body.prefix_mentions) {
      const names = mentions.map(id => '@' + mocker.contactPayload(id).name)
      finalText = names.map(n => n + '\u2005').join('') + text
    }
    const { record, delivered } = emitMessage({
      talkerId: from,
      roomId: room,
      listenerId: room ? null : BOT_ID,
      text: finalText,
      mentionIdList: mentions,
    })
    return { message_id: record.id, delivered }
  },

  'POST /image': async body => {
    requireWorld(); requireLoggedIn()
    const { from, room = null } = body
    checkSpeaker(from, room)
    let buf
    if (typeof body.data === 'string') {
      buf = Buffer.from(body.data, 'base64')
    } else {
      const size = Number(body.size ?? 50 * 1024)
      need(Number.isInteger(size) && size > 0 && size <= 50 * 1024 * 1024, '"size" must be 1..52428800 bytes')
      buf = makeImage(size)
    }
    const name = body.name || `IMG_${Date.now()}.png`
    // a Base64 box, as real puppets hand out: <= 20 KB it passes through
    // gRPC as JSON, bigger ones become a UUID box (stream it instead)
    const box = FileBox.fromBase64(buf.toString('base64'), name)
    const { record, delivered } = emitMessage({
      talkerId: from,
      roomId: room,
      listenerId: room ? null : BOT_ID,
      type: PUPPET_TYPES.Message.Image,
      text: '',
      fileBox: box,
    })
    return {
      message_id: record.id,
      delivered,
      size: buf.length,
      name,
      sha256: crypto.createHash('sha256').update(buf).digest('hex'),
    }
  },

  'POST /recall': async body => {
    requireWorld(); requireLoggedIn()
    const { message_id: messageId } = body
    need(typeof messageId === 'string' && mocker.cacheMessagePayload.has(messageId), `unknown message_id: ${messageId}`)
    const orig = mocker.messagePayload(messageId)
    need(orig.talkerId !== BOT_ID, 'use the bot\'s own recall (gRPC MessageRecall) for bot messages')
    const all = allMessages.find(m => m.id === messageId)
    if (all) all.recalled = true
    // like real puppets: a new message of type Recalled whose text is the
    // id of the recalled message
    const { record, delivered } = emitMessage({
      talkerId: orig.talkerId,
      roomId: orig.roomId || null,
      listenerId: orig.roomId ? null : orig.listenerId,
      type: PUPPET_TYPES.Message.Recalled,
      text: messageId,
    })
    return { message_id: record.id, recalled_id: messageId, delivered }
  },

  'POST /join': async body => {
    requireWorld(); requireLoggedIn()
    const { room } = body
    need(roomExists(room), `unknown room: ${room}`)
    let contactId = body.contact
    if (contactId && typeof contactId === 'object') {
      // a brand-new person: {"id": "...", "name": "...", ...}
      need(typeof contactId.id === 'string' && typeof contactId.name === 'string', 'new contact needs "id" and "name"')
      if (!contactExists(contactId.id)) mocker.createContact(contactPayloadOf(contactId))
      contactId = contactId.id
    }
    need(typeof contactId === 'string' && contactExists(contactId), `unknown contact: ${contactId}`)
    const payload = mocker.roomPayload(room)
    need(!payload.memberIdList.includes(contactId), `${contactId} is already in ${room}`)
    const inviterId = body.inviter || payload.ownerId || BOT_ID
    need(contactExists(inviterId), `unknown inviter: ${inviterId}`)
    if (body.room_alias) ROOM_ALIAS.get(room)[contactId] = body.room_alias
    mocker.RoomMock.load(room).add(mocker.ContactMock.load(contactId)).by(mocker.ContactMock.load(inviterId))
    await puppet.dirtyPayload(PUPPET_TYPES.Dirty.Room, room)
    await puppet.dirtyPayload(PUPPET_TYPES.Dirty.RoomMember, room)
    return { ok: true, room, contact: contactId, inviter: inviterId, delivered: streamAttached() }
  },

  'POST /leave': async body => {
    requireWorld(); requireLoggedIn()
    const { room, contact } = body
    need(roomExists(room), `unknown room: ${room}`)
    need(contactExists(contact), `unknown contact: ${contact}`)
    const payload = mocker.roomPayload(room)
    need(payload.memberIdList.includes(contact), `${contact} is not in ${room}`)
    const removerId = body.remover || contact
    mocker.RoomMock.load(room).remove(mocker.ContactMock.load(contact)).by(mocker.ContactMock.load(removerId))
    await puppet.dirtyPayload(PUPPET_TYPES.Dirty.Room, room)
    await puppet.dirtyPayload(PUPPET_TYPES.Dirty.RoomMember, room)
    return { ok: true, room, contact, remover: removerId, delivered: streamAttached() }
  },

  'POST /topic': async body => {
    requireWorld(); requireLoggedIn()
    const { room, topic } = body
    need(roomExists(room), `unknown room: ${room}`)
    need(typeof topic === 'string' && topic.length > 0, '"topic" must be a non-empty string')
    const payload = mocker.roomPayload(room)
    const changerId = body.changer || payload.ownerId || payload.memberIdList.find(id => id !== BOT_ID) || BOT_ID
    need(contactExists(changerId), `unknown changer: ${changerId}`)
    const oldTopic = payload.topic
    mocker.RoomMock.load(room).topic(topic).by(mocker.ContactMock.load(changerId))
    await puppet.dirtyPayload(PUPPET_TYPES.Dirty.Room, room)
    return { ok: true, room, old_topic: oldTopic, topic, changer: changerId, delivered: streamAttached() }
  },

  'POST /alias': async body => {
    // a member changes their group alias (群昵称): WeChat sends no event for that
    requireWorld(); requireLoggedIn()
    const { room, contact, alias = '' } = body
    need(roomExists(room), `unknown room: ${room}`)
    need(mocker.roomPayload(room).memberIdList.includes(contact), `${contact} is not in ${room}`)
    need(typeof alias === 'string', '"alias" must be a string')
    const old = ROOM_ALIAS.get(room)[contact] || ''
    ROOM_ALIAS.get(room)[contact] = alias
    await puppet.dirtyPayload(PUPPET_TYPES.Dirty.RoomMember, room)
    return { ok: true, room, contact, old_alias: old, alias }
  },

  'GET /sent': async () => sentMessages,
  'DELETE /sent': async () => { const n = sentMessages.length; sentMessages = []; return { ok: true, cleared: n } },
  'GET /messages': async () => allMessages,
  'GET /calls': async () => puppetCalls,
  'DELETE /calls': async () => { puppetCalls = {}; return { ok: true } },

  'POST /stop': async body => {
    const wasRunning = await stopGrpc({ stopPuppet: !!body.stop_puppet })
    return { ok: true, was_running: wasRunning, logged_in: puppet.isLoggedIn }
  },
  'POST /start': async () => {
    const started = await startGrpc()
    return { ok: true, started, puppet_port: PUPPET_PORT }
  },
  'POST /logout': async () => {
    requireLoggedIn()
    await puppet.logout('kicked out (POST /logout)')
    return { ok: true }
  },
  'POST /login': async () => {
    requireWorld()
    need(puppet.state.active(), 'the puppet is not started', 409)
    if (!puppet.isLoggedIn) mocker.login(mocker.ContactMock.load(BOT_ID))
    return { ok: true }
  },
}

function readBody (req) {
  return new Promise((resolve, reject) => {
    const chunks = []
    req.on('data', c => chunks.push(c))
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}

const httpServer = http.createServer(async (req, res) => {
  const send = (status, obj) => {
    const body = JSON.stringify(obj)
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) })
    res.end(body)
  }
  const url = new URL(req.url, 'http://localhost')
  const key = `${req.method} ${url.pathname.replace(/\/+$/, '') || '/'}`
  const handler = routes[key]
  if (!handler) return send(404, { error: `no route: ${key}` })
  try {
    const raw = await readBody(req)
    let body = {}
    if (raw.trim()) {
      try { body = JSON.parse(raw) } catch { throw new HttpError(400, 'body is not valid JSON') }
    }
    if (body === null || typeof body !== 'object') body = {}
    const result = await handler(body)
    send(200, result)
  } catch (e) {
    const status = e instanceof HttpError ? e.status : 500
    if (status === 500) glog(`${key} failed:`, e.stack || e)
    send(status, { error: e.message || String(e) })
  }
})

// ---------------------------------------------------------------------------
// boot
// ---------------------------------------------------------------------------
async function shutdown (signal) {
  glog(`shutting down (${signal})`)
  try { await stopGrpc() } catch (e) { glog('stop error:', e.message) }
  try { httpServer.close() } catch { /* ignore */ }
  process.exit(0)
}
process.on('SIGINT', () => shutdown('SIGINT'))
process.on('SIGTERM', () => shutdown('SIGTERM'))
if (OPTS.exitOnStdinClose) {
  process.stdin.on('end', () => shutdown('stdin closed'))
  process.stdin.on('error', () => shutdown('stdin error'))
  process.stdin.resume()
}

try {
  buildWorld()
  await startGrpc()
  await new Promise((resolve, reject) => {
    httpServer.once('error', reject)
    httpServer.listen(OPTS.controlPort, '127.0.0.1', resolve)
  })
} catch (e) {
  glog('startup failed:', e.stack || e)
  process.exit(1)
}

writeStdout(`{"puppet_port": ${PUPPET_PORT}, "control_port": ${httpServer.address().port}, "token": ${JSON.stringify(OPTS.token)}}\n`)
